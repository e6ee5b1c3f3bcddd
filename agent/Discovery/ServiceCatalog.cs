namespace Sidecar.Discovery;

/// <summary>
/// Every service the agent can reach, across its sources in registration order (static routes,
/// then Eureka): the first source that knows a service answers for it. The forwarder refuses
/// anything the catalog does not know, which is what keeps the agent from being an open proxy.
/// </summary>
internal sealed class ServiceCatalog(IEnumerable<IServiceInstanceSource> sources)
{
    private readonly IServiceInstanceSource[] _sources = sources.ToArray();

    public IReadOnlyList<IServiceInstanceSource> Sources => _sources;

    /// <summary>Changes whenever any source changes.</summary>
    public long Version
    {
        get
        {
            long version = 0;
            foreach (var source in _sources)
            {
                version += source.Version;
            }

            return version;
        }
    }

    /// <summary>All instances of the service, every status; null when no source knows it.</summary>
    public IReadOnlyList<ServiceInstance>? GetInstances(string serviceName)
    {
        foreach (var source in _sources)
        {
            if (source.GetInstances(serviceName) is { } instances)
            {
                return instances;
            }
        }

        return null;
    }

    /// <summary>The names of every known service, sorted, without duplicates.</summary>
    public IReadOnlyList<string> ServiceNames()
    {
        var names = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var source in _sources)
        {
            names.UnionWith(source.ServiceNames);
        }

        return [.. names];
    }
}

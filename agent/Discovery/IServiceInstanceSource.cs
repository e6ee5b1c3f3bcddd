namespace Sidecar.Discovery;

/// <summary>
/// A place instances come from: the Eureka registry, or static <c>ROUTES</c> in standalone mode.
/// Implementations answer from memory (never I/O) and are safe to call from many threads.
/// </summary>
internal interface IServiceInstanceSource
{
    /// <summary>Short name for diagnostics: <c>eureka</c>, <c>routes</c>.</summary>
    public string Name { get; }

    /// <summary>Bumped whenever any answer of this source may have changed, so callers can cache per version.</summary>
    public long Version { get; }

    /// <summary>The names of the services this source knows (lower case).</summary>
    public IReadOnlyCollection<string> ServiceNames { get; }

    /// <summary>All instances of a service, every status included; null when this source does not know the service.</summary>
    /// <param name="serviceName">Case-insensitive: an app name or a VIP address.</param>
    public IReadOnlyList<ServiceInstance>? GetInstances(string serviceName);
}

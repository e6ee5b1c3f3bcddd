using Sidecar.Discovery;
using Sidecar.Eureka;

namespace Sidecar.Forwarding;

/// <summary>
/// The services of <c>ROUTES</c> (standalone mode): fixed instances, always UP, no zone. They never
/// change, so <see cref="Version"/> stays at 1.
/// </summary>
internal sealed class StaticRouteSource : IServiceInstanceSource
{
    private static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();

    private readonly Dictionary<string, IReadOnlyList<ServiceInstance>> _services = new(StringComparer.OrdinalIgnoreCase);

    public StaticRouteSource(ForwardingOptions options)
    {
        foreach (var (name, urls) in options.Routes)
        {
            var instances = new ServiceInstance[urls.Count];
            for (var i = 0; i < urls.Count; i++)
            {
                var url = urls[i];
                var secure = url.Scheme == Uri.UriSchemeHttps;
                instances[i] = new ServiceInstance(name, $"{url.Host}:{url.Port}", url.Host, url.Port, secure, InstanceStatus.Up, null, NoMetadata);
            }

            _services[name] = instances;
        }

        ServiceNames = [.. _services.Keys];
    }

    public string Name => "routes";

    public long Version => 1;

    public IReadOnlyCollection<string> ServiceNames { get; }

    public IReadOnlyList<ServiceInstance>? GetInstances(string serviceName) =>
        _services.TryGetValue(serviceName, out var instances) ? instances : null;
}

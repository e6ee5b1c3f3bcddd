using Sidecar.Discovery;
using Sidecar.Health;

namespace Sidecar.Tests.Fakes;

/// <summary>
/// A hand-written <see cref="IServiceInstanceSource"/> standing in for the Eureka registry: tests set
/// instances with any status and zone, and every change bumps <see cref="Version"/> as a registry
/// fetch would.
/// </summary>
internal sealed class FakeServiceInstanceSource : IServiceInstanceSource
{
    private readonly Lock _lock = new();
    private Dictionary<string, IReadOnlyList<ServiceInstance>> _services = new(StringComparer.OrdinalIgnoreCase);
    private long _version = 1;

    public string Name => "fake";

    public long Version => Interlocked.Read(ref _version);

    public IReadOnlyCollection<string> ServiceNames
    {
        get
        {
            lock (_lock)
            {
                return [.. _services.Keys];
            }
        }
    }

    public IReadOnlyList<ServiceInstance>? GetInstances(string serviceName)
    {
        lock (_lock)
        {
            return _services.TryGetValue(serviceName, out var instances) ? instances : null;
        }
    }

    /// <summary>Replaces the instances of a service (an empty list keeps the service known with no instance).</summary>
    public void Set(string service, params ServiceInstance[] instances)
    {
        lock (_lock)
        {
            _services = new Dictionary<string, IReadOnlyList<ServiceInstance>>(_services, StringComparer.OrdinalIgnoreCase) { [service] = instances };
            Interlocked.Increment(ref _version);
        }
    }

    public void Remove(string service)
    {
        lock (_lock)
        {
            var copy = new Dictionary<string, IReadOnlyList<ServiceInstance>>(_services, StringComparer.OrdinalIgnoreCase);
            copy.Remove(service);
            _services = copy;
            Interlocked.Increment(ref _version);
        }
    }

    public static ServiceInstance Instance(string service, int port, InstanceStatus status = InstanceStatus.Up, string? zone = null, string host = "127.0.0.1") =>
        new(service, $"{host}:{service}:{port}", host, port, false, status, zone, new Dictionary<string, string>());
}

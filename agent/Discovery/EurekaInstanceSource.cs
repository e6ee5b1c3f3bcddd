namespace Sidecar.Discovery;

/// <summary>The Eureka registry as a source of instances for the catalog and the forwarder: answers from memory only.</summary>
internal sealed class EurekaInstanceSource(EurekaRegistry registry) : IServiceInstanceSource
{
    public string Name => "eureka";

    public long Version => registry.Version;

    public IReadOnlyCollection<string> ServiceNames => registry.View.ServiceNames;

    public IReadOnlyList<ServiceInstance>? GetInstances(string serviceName) => registry.View.GetInstances(serviceName);
}

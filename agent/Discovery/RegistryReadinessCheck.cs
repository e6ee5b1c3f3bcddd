using Sidecar.Health;

namespace Sidecar.Discovery;

/// <summary>
/// The <c>registry</c> entry of <c>/v1/health</c>: not ready until a registry has been applied, from a
/// server or from the disk snapshot, so an agent that cannot route to anything does not say it is ready.
/// Once applied it stays ready while every server is down (the last good registry keeps routing).
/// </summary>
internal sealed class RegistryReadinessCheck(EurekaRegistry registry) : IReadinessCheck
{
    public const string CheckName = "registry";

    public string Name => CheckName;

    public ReadinessResult Check()
    {
        var view = registry.View;
        return view.Origin switch
        {
            RegistryOrigin.Server => new ReadinessResult(true, $"{view.ServiceNames.Count} services, {view.InstanceCount} instances from {view.Server}"),
            RegistryOrigin.Snapshot => new ReadinessResult(true, $"{view.ServiceNames.Count} services, {view.InstanceCount} instances from the snapshot saved {view.UpdatedAt:O}"),
            _ => new ReadinessResult(false, "no registry fetched yet"),
        };
    }
}

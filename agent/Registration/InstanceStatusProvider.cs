using Sidecar.Health;

namespace Sidecar.Registration;

/// <summary>
/// The status this instance reports on <c>/status</c> (and, when registered, to Eureka). Without
/// registration it is the app's health; registration adds the app's own OUT_OF_SERVICE override.
/// </summary>
internal sealed class InstanceStatusProvider(AppHealthMonitor health)
{
    public InstanceStatus Current => health.Current.Status;
}

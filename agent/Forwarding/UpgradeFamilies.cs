using Prometheus;
using Sidecar.Observability;

namespace Sidecar.Forwarding;

/// <summary>
/// The series of upgraded connections (WebSocket) through the forwarder (docs/observability.md#metrics-get-metrics):
/// handshakes by outcome, connections open, bytes each way. Only a service that saw an upgrade request has them.
/// </summary>
internal sealed class UpgradeFamilies(IMetricFactory f)
{
    public Counter Total { get; } = f.CreateCounter("sidecar_forward_upgrades_total",
        "Upgrade requests (WebSocket), by service and outcome of the handshake (upgraded, declined, failed, draining).", ["service", "outcome"]);

    public Gauge Active { get; } = f.CreateGauge("sidecar_forward_upgrades_active", "Upgraded connections open right now, by service.", ["service"]);

    public Counter Bytes { get; } = f.CreateCounter("sidecar_forward_upgrade_bytes_total",
        "Bytes upgraded connections carried, by service and direction (to_instance, to_caller).", ["service", "direction"]);

    /// <summary>Copies one service's cells into the families.</summary>
    public void Update(ServiceMetrics service)
    {
        var any = false;
        for (var o = 0; o < UpgradeOutcomes.Labels.Length; o++)
        {
            any |= service.UpgradeCount((UpgradeOutcome)o) != 0;
        }

        if (!any)
        {
            return;
        }

        for (var o = 0; o < UpgradeOutcomes.Labels.Length; o++)
        {
            Total.WithLabels(service.Name, UpgradeOutcomes.Labels[o]).IncTo(service.UpgradeCount((UpgradeOutcome)o));
        }

        Active.WithLabels(service.Name).Set(service.UpgradesActive);
        Bytes.WithLabels(service.Name, "to_instance").IncTo(service.UpgradeBytesToInstance);
        Bytes.WithLabels(service.Name, "to_caller").IncTo(service.UpgradeBytesToCaller);
    }
}

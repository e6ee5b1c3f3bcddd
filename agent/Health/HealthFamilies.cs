using Prometheus;
using Sidecar.Eureka;
using Sidecar.Observability;

namespace Sidecar.Health;

/// <summary>The app health's families in <c>/metrics</c>: the status last probed, the probes by result, the failures in a row.</summary>
internal sealed class HealthFamilies : IMetricsContributor
{
    private static readonly InstanceStatus[] Statuses = [InstanceStatus.Up, InstanceStatus.Down, InstanceStatus.Starting, InstanceStatus.OutOfService, InstanceStatus.Unknown];

    private readonly AppHealthMonitor _monitor;
    private readonly HealthMetrics _health;
    private readonly Gauge _healthStatus;
    private readonly Counter _probes;
    private readonly Gauge _consecutiveFailures;

    public HealthFamilies(MetricsRegistry registry, AppHealthMonitor monitor, HealthMetrics health)
    {
        _monitor = monitor;
        _health = health;
        var f = registry.Factory;
        _healthStatus = f.CreateGauge("sidecar_app_health_status", "The app's health as last probed: 1 for the current status.", ["status"]);
        _probes = f.CreateCounter("sidecar_app_health_probes_total", "Health probes of the app, by result.", ["result"]);
        _consecutiveFailures = f.CreateGauge("sidecar_app_health_consecutive_failures", "Failed probes in a row.");
    }

    public void Update(DateTimeOffset now)
    {
        var current = _monitor.Current;
        foreach (var s in Statuses)
        {
            _healthStatus.WithLabels(s.ToWire()).Set(current.Status == s ? 1 : 0);
        }

        _probes.WithLabels("healthy").IncTo(_health.Healthy);
        _probes.WithLabels("unhealthy").IncTo(_health.Unhealthy);
        _consecutiveFailures.Set(current.ConsecutiveFailures);
    }
}

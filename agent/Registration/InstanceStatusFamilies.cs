using Prometheus;
using Sidecar.Eureka;
using Sidecar.Observability;

namespace Sidecar.Registration;

/// <summary>The status the agent reports, in <c>/metrics</c>: <c>sidecar_instance_status</c>, 1 for the current one (standalone agents too).</summary>
internal sealed class InstanceStatusFamilies : IMetricsContributor
{
    private static readonly InstanceStatus[] Statuses = [InstanceStatus.Up, InstanceStatus.Down, InstanceStatus.Starting, InstanceStatus.OutOfService, InstanceStatus.Unknown];

    private readonly InstanceStatusProvider _status;
    private readonly Gauge _instanceStatus;

    public InstanceStatusFamilies(MetricsRegistry registry, InstanceStatusProvider status)
    {
        _status = status;
        _instanceStatus = registry.Factory.CreateGauge("sidecar_instance_status",
            "The status reported to Eureka and on /status (OUT_OF_SERVICE when the app or the drain says so): 1 for the current one.", ["status"]);
    }

    public void Update(DateTimeOffset now)
    {
        var reported = _status.Current;
        foreach (var s in Statuses)
        {
            _instanceStatus.WithLabels(s.ToWire()).Set(reported == s ? 1 : 0);
        }
    }
}

/// <summary>The lease's families in <c>/metrics</c>, in registered mode only: registered or not, the age of the last heartbeat Eureka accepted.</summary>
internal sealed class LeaseFamilies : IMetricsContributor
{
    private readonly EurekaRegistrationService _registration;
    private readonly Gauge _registered;
    private readonly Gauge _heartbeatAge;

    public LeaseFamilies(MetricsRegistry registry, EurekaRegistrationService registration)
    {
        _registration = registration;
        var f = registry.Factory;
        _registered = f.CreateGauge("sidecar_eureka_registered", "1 while Eureka holds this instance's lease (as far as the agent knows).");
        _heartbeatAge = f.CreateGauge("sidecar_eureka_heartbeat_age_seconds", "Seconds since Eureka last accepted a registration or renewal.", [],
            new GaugeConfiguration { SuppressInitialValue = true });
    }

    public void Update(DateTimeOffset now)
    {
        _registered.Set(_registration.ReportedStatus is null ? 0 : 1);
        if (_registration.LastHeartbeat is { } heartbeat)
        {
            _heartbeatAge.Set(MetricValues.Seconds(now - heartbeat));
        }
        else
        {
            _heartbeatAge.Unpublish();
        }
    }
}

using Prometheus;
using Sidecar.Observability;

namespace Sidecar.Discovery;

/// <summary>The registry copy's families in <c>/metrics</c>, in registered mode only: its age and its instances, absent before the first copy.</summary>
internal sealed class RegistryFamilies : IMetricsContributor
{
    private readonly EurekaRegistry _registry;
    private readonly Gauge _registryAge;
    private readonly Gauge _registryInstances;

    public RegistryFamilies(MetricsRegistry metrics, EurekaRegistry registry)
    {
        _registry = registry;
        var later = new GaugeConfiguration { SuppressInitialValue = true };
        _registryAge = metrics.Factory.CreateGauge("sidecar_eureka_registry_age_seconds",
            "Seconds since the registry in memory was last fetched (or saved, when loaded from the snapshot).", [], later);
        _registryInstances = metrics.Factory.CreateGauge("sidecar_eureka_registry_instances", "Instances in the registry in memory.", [], later);
    }

    public void Update(DateTimeOffset now)
    {
        if (_registry.View is { Origin: not RegistryOrigin.None } view)
        {
            _registryAge.Set(MetricValues.Seconds(now - view.UpdatedAt));
            _registryInstances.Set(view.InstanceCount);
        }
        else
        {
            _registryAge.Unpublish();
            _registryInstances.Unpublish();
        }
    }
}

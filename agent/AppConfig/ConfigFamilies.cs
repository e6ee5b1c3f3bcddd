using Prometheus;
using Sidecar.Observability;

namespace Sidecar.AppConfig;

/// <summary>App config's families in <c>/metrics</c>: refreshes by outcome, the version and keys served, the age of that version.</summary>
internal sealed class ConfigFamilies : IMetricsContributor
{
    private readonly ConfigMetrics _config;
    private readonly AppConfigStore _store;
    private readonly Counter _refreshes;
    private readonly Gauge _configVersion;
    private readonly Gauge _configKeys;
    private readonly Gauge _configVersionAge;

    public ConfigFamilies(MetricsRegistry registry, ConfigMetrics config, AppConfigStore store)
    {
        _config = config;
        _store = store;
        var f = registry.Factory;
        _refreshes = f.CreateCounter("sidecar_config_refreshes_total", "Config refreshes, by outcome.", ["outcome"]);
        _configVersion = f.CreateGauge("sidecar_config_version", "The config version served (0 before the first load).");
        _configKeys = f.CreateGauge("sidecar_config_keys", "Keys in the config served.");
        _configVersionAge = f.CreateGauge("sidecar_config_version_age_seconds", "Seconds since the config version served went live.", [],
            new GaugeConfiguration { SuppressInitialValue = true });
    }

    public void Update(DateTimeOffset now)
    {
        for (var o = 0; o < ConfigMetrics.OutcomeLabels.Length; o++)
        {
            _refreshes.WithLabels(ConfigMetrics.OutcomeLabels[o]).IncTo(_config.Count((ConfigRefreshOutcome)o));
        }

        var snapshot = _store.Current;
        _configVersion.Set(snapshot.Version);
        _configKeys.Set(snapshot.Values.Count);
        if (_config.Current is { } seen && seen.Version == snapshot.Version)
        {
            _configVersionAge.Set(MetricValues.Seconds(now - seen.Since));
        }
        else
        {
            _configVersionAge.Unpublish();
        }
    }
}

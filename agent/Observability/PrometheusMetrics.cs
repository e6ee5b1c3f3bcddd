using Prometheus;

namespace Sidecar.Observability;

/// <summary>
/// <c>GET /metrics</c>: the agent's families in a prometheus-net registry (<see cref="MetricsRegistry"/>).
/// The hot path counts in its own <see cref="Interlocked"/> cells; before each scrape the registry
/// calls <see cref="Update"/>, which asks each feature's <see cref="IMetricsContributor"/> to copy its
/// counts into its counters (<c>IncTo</c>: counters only go up) and read its gauges from the live
/// state. The agent's own families (build, process, garbage collector) are declared here. Label values are fixed sets,
/// service names the catalog knows (or <c>unknown</c>), or Eureka operation names: never a path, a
/// query or anything else a caller sent.
/// </summary>
internal sealed class PrometheusMetrics
{
    private readonly MetricsRegistry _registry;
    private readonly IMetricsContributor[] _contributors;
    private readonly TimeProvider _time;
    private readonly ProcessFamilies _process;
    private readonly RuntimeFamilies _runtime;

    public PrometheusMetrics(MetricsRegistry registry, IEnumerable<IMetricsContributor> contributors, TimeProvider time)
    {
        _registry = registry;
        _time = time;

        var f = registry.Factory;
        f.CreateGauge("sidecar_agent_info", "The agent's version (kept for dashboards that use it; sidecar_build_info has the commit too).", ["version"]).WithLabels(Platform.AgentIndexApi.Version).Set(1);
        f.CreateGauge("sidecar_build_info", "The agent's build: version and commit stamped at build (1).", ["version", "commit"])
            .WithLabels(Platform.AgentIndexApi.Version, Platform.AgentIndexApi.Commit).Set(1);
        _process = new ProcessFamilies(f, "process_", "The agent's");
        _runtime = new RuntimeFamilies(f);
        _contributors = contributors.ToArray(); // each declares its families as it is built
        registry.Registry.AddBeforeCollectCallback(Update);
    }

    /// <summary>Copies every cell into the registry, then writes the text format.</summary>
    public Task WriteAsync(Stream body, CancellationToken cancellationToken) => _registry.WriteAsync(body, cancellationToken);

    private void Update()
    {
        var now = _time.GetUtcNow();
        foreach (var contributor in _contributors)
        {
            contributor.Update(now);
        }

        _process.Update(ProcessStats.Read());
        _runtime.Update();
    }
}

using Prometheus;

namespace Sidecar.Observability;

/// <summary>
/// The agent's Prometheus registry (prometheus-net): one per agent, never the library's static
/// default one (so no process or runtime collectors start, and test agents in one process do not
/// share series). Holds the two histograms that are recorded as things happen; the counters and
/// gauges are copied from the agent's own cells at scrape time (<see cref="PrometheusMetrics"/>).
/// </summary>
internal sealed class MetricsRegistry
{
    /// <summary>The content type of the text exposition format the registry writes.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Forwarded calls through a sidecar on loopback or a LAN: 1 ms to 30 s.</summary>
    private static readonly double[] ForwardBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    /// <summary>Probes take up to <c>APP_HEALTH_TIMEOUT</c> (2 s by default): 1 ms to 10 s.</summary>
    private static readonly double[] ProbeBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    public MetricsRegistry()
    {
        Registry = Metrics.NewCustomRegistry();
        Factory = Metrics.WithCustomRegistry(Registry);

        // No exemplars: the default provider reads Activity.Current on every observation, and the
        // text format (0.0.4) the agent serves cannot carry them anyway.
        Factory.ExemplarBehavior = new ExemplarBehavior { DefaultExemplarProvider = static (_, _) => Exemplar.None };
        ForwardDuration = Factory.CreateHistogram("sidecar_forward_duration_seconds",
            "Time from receiving a request to the end of its answer, retries included.",
            new HistogramConfiguration { LabelNames = ["service"], Buckets = ForwardBuckets });
        ProbeDuration = Factory.CreateHistogram("sidecar_app_health_probe_duration_seconds",
            "How long health probes of the app took.", new HistogramConfiguration { Buckets = ProbeBuckets });
    }

    public CollectorRegistry Registry { get; }

    public IMetricFactory Factory { get; }

    /// <summary>By service; a child per service is kept by its <see cref="ServiceMetrics"/>, so recording needs no lookup.</summary>
    public Histogram ForwardDuration { get; }

    public Histogram ProbeDuration { get; }

    /// <summary>Runs the registry's before-collect callbacks, then writes every family.</summary>
    public Task WriteAsync(Stream body, CancellationToken cancellationToken) =>
        Registry.CollectAndExportAsTextAsync(body, cancellationToken);
}

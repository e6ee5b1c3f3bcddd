namespace Sidecar.Observability;

/// <summary>
/// A feature's families in <c>/metrics</c>: the feature declares them on the agent's
/// <see cref="MetricsRegistry"/> when it is built and copies its own cells and state into them in
/// <see cref="Update"/>, which <c>PrometheusMetrics</c> calls before each scrape. Each feature's
/// <c>AddXxx</c> registers its contributor; nothing here knows the features (docs/architecture.md#layers).
/// </summary>
internal interface IMetricsContributor
{
    /// <summary>Copies the feature's counts into its counters (<c>IncTo</c>) and reads its gauges from the live state.</summary>
    public void Update(DateTimeOffset now);
}

/// <summary>Values as the families publish them.</summary>
internal static class MetricValues
{
    /// <summary>A duration in seconds, rounded to the millisecond, never negative.</summary>
    public static double Seconds(TimeSpan span) => Math.Max(0, Math.Round(span.TotalSeconds, 3));
}

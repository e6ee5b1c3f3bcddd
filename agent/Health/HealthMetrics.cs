using Prometheus;

namespace Sidecar.Health;

/// <summary>App health probes by result, and their duration (recorded into <see cref="MetricsRegistry.ProbeDuration"/>).</summary>
internal sealed class HealthMetrics(Histogram? duration = null)
{
    private long _healthy;
    private long _unhealthy;

    public long Healthy => Volatile.Read(ref _healthy);

    public long Unhealthy => Volatile.Read(ref _unhealthy);

    public void Probed(ProbeResult result)
    {
        Interlocked.Increment(ref result.Healthy ? ref _healthy : ref _unhealthy);
        duration?.Observe(Math.Max(0, result.Duration.TotalSeconds), Exemplar.None);
    }
}

using Sidecar.Health;

namespace Sidecar.Observability;

/// <summary>App health probes by result, and their duration.</summary>
internal sealed class HealthMetrics
{
    /// <summary>Probes take up to <c>APP_HEALTH_TIMEOUT</c> (2 s by default): 1 ms to 10 s.</summary>
    private static readonly double[] Bounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private long _healthy;
    private long _unhealthy;

    public LatencyHistogram Duration { get; } = new(Bounds);

    public long Healthy => Volatile.Read(ref _healthy);

    public long Unhealthy => Volatile.Read(ref _unhealthy);

    public void Probed(ProbeResult result)
    {
        Interlocked.Increment(ref result.Healthy ? ref _healthy : ref _unhealthy);
        Duration.Record(result.Duration);
    }
}

using System.Diagnostics;

namespace Sidecar.Observability;

/// <summary>
/// A Prometheus histogram of durations kept in <see cref="Interlocked"/> cells: recording is a
/// short scan of the bucket bounds and two atomic adds, no lock, no allocation. Buckets hold
/// non-cumulative counts; <see cref="PrometheusWriter"/> adds them up at scrape time.
/// </summary>
internal sealed class LatencyHistogram
{
    /// <summary>Upper bounds in seconds: 1 ms to 30 s, for calls through a sidecar on loopback or a LAN.</summary>
    public static readonly double[] DefaultBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly long[] _boundTicks;
    private readonly long[] _counts;
    private long _sumTicks;

    public LatencyHistogram(double[]? bounds = null)
    {
        bounds ??= DefaultBounds;
        Bounds = bounds;
        _boundTicks = new long[bounds.Length];
        for (var i = 0; i < bounds.Length; i++)
        {
            _boundTicks[i] = (long)(bounds[i] * Stopwatch.Frequency);
        }

        _counts = new long[bounds.Length + 1];
    }

    /// <summary>The upper bounds in seconds (the last bucket, +Inf, is implicit).</summary>
    public IReadOnlyList<double> Bounds { get; }

    /// <summary>Records a duration in <see cref="Stopwatch"/> ticks.</summary>
    public void Record(long elapsedTicks)
    {
        if (elapsedTicks < 0)
        {
            elapsedTicks = 0;
        }

        var bounds = _boundTicks;
        var i = 0;
        while (i < bounds.Length && elapsedTicks > bounds[i])
        {
            i++;
        }

        Interlocked.Increment(ref _counts[i]);
        Interlocked.Add(ref _sumTicks, elapsedTicks);
    }

    public void Record(TimeSpan elapsed) => Record((long)(elapsed.TotalSeconds * Stopwatch.Frequency));

    /// <summary>A consistent-enough copy for one scrape: cumulative bucket counts, the count and the sum in seconds.</summary>
    public HistogramSnapshot Snapshot()
    {
        var cumulative = new long[_counts.Length];
        long running = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            running += Volatile.Read(ref _counts[i]);
            cumulative[i] = running;
        }

        return new HistogramSnapshot(Bounds, cumulative, (double)Volatile.Read(ref _sumTicks) / Stopwatch.Frequency);
    }
}

/// <summary>Cumulative bucket counts (the last one is +Inf, i.e. the count) and the sum in seconds.</summary>
internal sealed record HistogramSnapshot(IReadOnlyList<double> Bounds, long[] Cumulative, double Sum)
{
    public long Count => Cumulative[^1];
}

using System.Runtime.CompilerServices;

namespace Sidecar.Forwarding;

/// <summary>
/// Recent error rates per instance for the status page, without touching the hot path: every
/// <see cref="Period"/> the attempt and failure totals that <see cref="InstanceState"/> keeps anyway
/// are sampled into a small ring; the rate is the difference between now and the oldest sample
/// within <see cref="Window"/>. Rings live as long as their instance state (a weak table).
/// </summary>
internal sealed class InstanceErrorRates(ServicePools pools, TimeProvider time)
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(5);

    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly ConditionalWeakTable<InstanceState, Ring> _rings = [];

    /// <summary>Takes one sample of every instance of every pool.</summary>
    public void Sample()
    {
        var now = time.GetTimestamp();
        foreach (var pool in pools.All)
        {
            foreach (var state in pool.Instances)
            {
                if (!_rings.TryGetValue(state, out var ring))
                {
                    // First seen: its counters started at zero when the balancer made it, within the last period.
                    ring = _rings.GetValue(state, static _ => new Ring());
                    ring.Add(now, 0, 0);
                }

                ring.Add(now, state.Requests, state.Failures);
            }
        }
    }

    /// <summary>Attempts and failures over the last <see cref="Window"/> (or since the instance was first seen, when that is more recent).</summary>
    public (long Requests, long Failures) Recent(InstanceState state)
    {
        var requests = state.Requests;
        var failures = state.Failures;
        if (!_rings.TryGetValue(state, out var ring))
        {
            return (requests, failures);
        }

        var oldest = ring.Oldest(time.GetTimestamp() - (long)(Window.TotalSeconds * time.TimestampFrequency));
        return oldest is { } sample ? (requests - sample.Requests, failures - sample.Failures) : (requests, failures);
    }

    private sealed class Ring
    {
        // One sample per period over the window, plus the one at its far edge.
        private readonly (long At, long Requests, long Failures)[] _samples = new (long, long, long)[(int)(Window / Period) + 1];
        private readonly Lock _lock = new();
        private int _next;
        private int _count;

        public void Add(long at, long requests, long failures)
        {
            lock (_lock)
            {
                _samples[_next] = (at, requests, failures);
                _next = (_next + 1) % _samples.Length;
                _count = Math.Min(_count + 1, _samples.Length);
            }
        }

        /// <summary>The oldest sample taken at or after <paramref name="notBefore"/>.</summary>
        public (long At, long Requests, long Failures)? Oldest(long notBefore)
        {
            lock (_lock)
            {
                for (var i = _count; i >= 1; i--)
                {
                    var sample = _samples[(_next - i + _samples.Length) % _samples.Length];
                    if (sample.At >= notBefore)
                    {
                        return sample;
                    }
                }

                return null;
            }
        }
    }
}

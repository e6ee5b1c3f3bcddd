using System.Collections.Concurrent;

namespace Sidecar.Forwarding;

/// <summary>
/// Time-out token sources for the forwarder's fast path, reused across calls as Polly reuses its
/// own: a source that never fired is reset and kept, which saves a source and a timer per call.
/// Only sources on the system clock are pooled; a test's fake clock gets fresh ones.
/// </summary>
internal static class TimeoutSources
{
    private const int MaxPooled = 64;

    // Kept per thread first: with inline I/O the calls of every connection in flight start and end on the socket thread,
    // and a queue shared between threads costs interlocked operations per rent and return (and its count a walk).
    private const int KeptPerThread = 32;

    private static readonly ConcurrentQueue<CancellationTokenSource> Pool = new();

    [ThreadStatic]
    private static CancellationTokenSource?[]? t_kept;

    [ThreadStatic]
    private static int t_count;

    /// <summary>A source that cancels after <paramref name="delay"/> on <paramref name="time"/>.</summary>
    public static CancellationTokenSource Rent(TimeProvider time, TimeSpan delay)
    {
        if (time != TimeProvider.System)
        {
            return new CancellationTokenSource(delay, time);
        }

        CancellationTokenSource? cts;
        var kept = t_kept;
        var count = t_count;
        if (kept is not null && count > 0)
        {
            t_count = --count;
            cts = kept[count]!;
            kept[count] = null;
        }
        else if (!Pool.TryDequeue(out cts))
        {
            cts = new CancellationTokenSource();
        }

        if (delay != Timeout.InfiniteTimeSpan)
        {
            // A new or reset source has no time-out armed (TryReset disarms it): no timer-queue update for none.
            cts.CancelAfter(delay);
        }

        return cts;
    }

    /// <summary>Moves the time-out to <paramref name="delay"/> (positive) from now; no effect on a source that already fired.</summary>
    public static void Extend(CancellationTokenSource cts, TimeSpan delay) => cts.CancelAfter(delay);

    /// <summary>Takes a source back; one that fired (or runs on another clock) is disposed.</summary>
    public static void Return(CancellationTokenSource cts, TimeProvider time)
    {
        if (time != TimeProvider.System || !cts.TryReset())
        {
            cts.Dispose();
            return;
        }

        var kept = t_kept ??= new CancellationTokenSource?[KeptPerThread];
        var count = t_count;
        if (count < kept.Length)
        {
            kept[count] = cts;
            t_count = count + 1;
        }
        else if (Pool.Count < MaxPooled)
        {
            Pool.Enqueue(cts);
        }
        else
        {
            cts.Dispose();
        }
    }
}

using System.Collections.Concurrent;

namespace Sidecar.Forwarding;

/// <summary>
/// A call's time-out (the forwarder's fast path, <c>ForwardCall.RunAttemptsAsync</c>): a <see cref="CancellationTokenSource"/>
/// that fires when the time-out is due, kept for the calls after (<see cref="TimeoutSources"/>), with a timer of its own
/// that is moved only when it must (docs/performance.md#the-added-fields-and-the-time-out-once-per-connection-2026-12-05-twelfth-session).
/// A use's due time is a field: starting a use, or moving its time-out later, changes the timer only when the new due
/// time comes before the one the timer is set for. When the timer fires for a due time that has moved on (the use
/// ended, or the next use is due later), it is set again for the current one, or left unset when there is none. Calls
/// of one time-out each start after the one before: the timer moves about twice per time-out's length, where a source's
/// own timer (<see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/>) moves in the timer queue two or three times a call.
/// </summary>
internal sealed class TimeoutSource : IDisposable
{
    private const long Never = long.MaxValue;

    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly Lock _lock = new();
    private CancellationTokenSource _source = new();
    private long _due = Never; // the timestamp the use's time-out is due at (the time provider's); Never: no use, or none
    private long _armed = Never; // the timestamp the timer is set for; Never: not set
    private bool _fired; // the timer took the use's source to cancel it

    public TimeoutSource(TimeProvider time)
    {
        _time = time;

        // The timer must not keep the execution context of the call that made it (its log scope) for the time-outs of later calls.
        var restore = !ExecutionContext.IsFlowSuppressed();
        if (restore)
        {
            ExecutionContext.SuppressFlow();
        }

        try
        {
            _timer = time.CreateTimer(static s => ((TimeoutSource)s!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        finally
        {
            if (restore)
            {
                ExecutionContext.RestoreFlow();
            }
        }
    }

    /// <summary>The use's source: cancelled when its time-out fires, or by whoever else cancels it (the caller leaving, a hedge race lost).</summary>
    public CancellationTokenSource Source => _source;

    public CancellationToken Token => _source.Token;

    public bool IsCancellationRequested => _source.IsCancellationRequested;

    /// <summary>A use starts: its time-out fires after <paramref name="delay"/> (none for <see cref="Timeout.InfiniteTimeSpan"/>).</summary>
    public void Start(TimeSpan delay) => Move(delay);

    /// <summary>Moves the time-out to <paramref name="delay"/> (positive) from now; no effect once it fired.</summary>
    public void Extend(TimeSpan delay) => Move(delay);

    /// <summary>The use is over: a source that was cancelled (by the timer or anyone else) is replaced for the next use.</summary>
    public void End()
    {
        lock (_lock)
        {
            _due = Never; // the timer, if set, finds no use when it fires and stays unset
            if (_fired || _source.IsCancellationRequested)
            {
                // Not disposed: the timer may be cancelling it right now (Fire, outside the lock).
                _source = new CancellationTokenSource();
                _fired = false;
            }
        }
    }

    public void Dispose() => _timer.Dispose();

    private void Move(TimeSpan delay)
    {
        lock (_lock)
        {
            if (_fired)
            {
                return;
            }

            var now = _time.GetTimestamp();
            _due = delay == Timeout.InfiniteTimeSpan ? Never : now + Ticks(delay);
            if (_due < _armed)
            {
                Arm(now);
            }
        }
    }

    private void Fire()
    {
        CancellationTokenSource source;
        lock (_lock)
        {
            _armed = Never;
            if (_due == Never || _fired)
            {
                return;
            }

            var now = _time.GetTimestamp();
            if (now < _due)
            {
                Arm(now); // the due time moved on since the timer was set
                return;
            }

            _fired = true;
            source = _source;
        }

        source.Cancel(); // outside the lock: the token's callbacks run here
    }

    // Under the lock: the timer set for _due, rounded up to the timer's millisecond (a timer that fires early only sets itself again).
    private void Arm(long now)
    {
        _armed = _due;
        var ms = Math.Ceiling((_due - now) * 1000.0 / _time.TimestampFrequency);
        _timer.Change(TimeSpan.FromMilliseconds(Math.Min(ms, uint.MaxValue - 1.0)), Timeout.InfiniteTimeSpan);
    }

    private long Ticks(TimeSpan delay)
    {
        var ticks = delay.TotalSeconds * _time.TimestampFrequency;
        return ticks >= long.MaxValue / 2 ? long.MaxValue / 2 : Math.Max(0, (long)ticks);
    }
}

/// <summary>
/// <see cref="TimeoutSource"/>s reused across calls, as Polly reuses its own: a source whose use ended is kept with its timer,
/// which saves a source and a timer per call. Only sources on the system clock are kept; a test's fake clock gets fresh ones.
/// </summary>
internal static class TimeoutSources
{
    private const int MaxPooled = 64;

    // Kept per thread first: with inline I/O the calls of every connection in flight start and end on the socket thread,
    // and a queue shared between threads costs interlocked operations per rent and return (and its count a walk).
    private const int KeptPerThread = 32;

    private static readonly ConcurrentQueue<TimeoutSource> Pool = new();

    [ThreadStatic]
    private static TimeoutSource?[]? t_kept;

    [ThreadStatic]
    private static int t_count;

    /// <summary>A source that cancels after <paramref name="delay"/> on <paramref name="time"/>.</summary>
    public static TimeoutSource Rent(TimeProvider time, TimeSpan delay)
    {
        TimeoutSource? source;
        if (time != TimeProvider.System)
        {
            source = new TimeoutSource(time);
        }
        else
        {
            var kept = t_kept;
            var count = t_count;
            if (kept is not null && count > 0)
            {
                t_count = --count;
                source = kept[count]!;
                kept[count] = null;
            }
            else if (!Pool.TryDequeue(out source))
            {
                source = new TimeoutSource(time);
            }
        }

        source.Start(delay);
        return source;
    }

    /// <summary>Takes a source back once its use is over.</summary>
    public static void Return(TimeoutSource source, TimeProvider time)
    {
        source.End();
        if (time != TimeProvider.System)
        {
            source.Dispose();
            return;
        }

        var kept = t_kept ??= new TimeoutSource?[KeptPerThread];
        var count = t_count;
        if (count < kept.Length)
        {
            kept[count] = source;
            t_count = count + 1;
        }
        else if (Pool.Count < MaxPooled)
        {
            Pool.Enqueue(source);
        }
        else
        {
            source.Dispose();
        }
    }
}

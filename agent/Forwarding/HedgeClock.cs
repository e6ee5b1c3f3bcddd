namespace Sidecar.Forwarding;

/// <summary>
/// The <c>HedgeAfter</c> wake-ups of one service's hedgeable first attempts (docs/resilience.md#cost): one timer
/// for the service rather than one per call. Every attempt of a service waits the same <c>HedgeAfter</c>, so the
/// waiting attempts, listed in the order they started, are also in the order they come due: the timer is armed
/// for the oldest one, wakes those due and is armed again for the next. A call adds its wait and takes it off
/// again under one uncontended lock each, with no timer update, token source or registration of its own; the
/// timer fires at most about once per <c>HedgeAfter</c> while calls come and go, and not at all when idle.
/// </summary>
internal sealed class HedgeClock
{
    private const int MaxPooled = 256;

    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly long _after;
    private readonly ITimer _timer;
    private HedgeWait? _head;
    private HedgeWait? _tail;
    private HedgeWait? _free;
    private int _freeCount;
    private bool _armed;

    public HedgeClock(TimeSpan hedgeAfter, TimeProvider time)
    {
        HedgeAfter = hedgeAfter;
        _time = time;
        _after = (long)(hedgeAfter.TotalSeconds * time.TimestampFrequency);

        // Created for the service, maybe while a call runs: its wake-ups must not carry that call's context.
        AsyncFlowControl? suppressed = ExecutionContext.IsFlowSuppressed() ? null : ExecutionContext.SuppressFlow();
        try
        {
            _timer = time.CreateTimer(static s => ((HedgeClock)s!).Tick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        finally
        {
            suppressed?.Undo();
        }
    }

    public TimeSpan HedgeAfter { get; }

    /// <summary>A wait, due <c>HedgeAfter</c> from now, for a first attempt that runs on <paramref name="source"/> (cancelled if it loses the race).</summary>
    public HedgeWait Start(CancellationTokenSource source)
    {
        lock (_lock)
        {
            var wait = _free;
            if (wait is null)
            {
                wait = new HedgeWait(this);
            }
            else
            {
                _free = wait.Next;
                _freeCount--;
            }

            wait.Reset(source, _time.GetTimestamp() + _after);
            wait.Prev = _tail;
            wait.Next = null;
            wait.Listed = true;
            if (_tail is null)
            {
                _head = wait;
            }
            else
            {
                _tail.Next = wait;
            }

            _tail = wait;
            if (!_armed)
            {
                _armed = true;
                _timer.Change(HedgeAfter, Timeout.InfiniteTimeSpan);
            }

            return wait;
        }
    }

    /// <summary>
    /// The first attempt ended before its wait came due: the wait is taken off the list and pooled. False when
    /// the clock took it first (it woke it, or is about to): it is then left to the collector, never reused.
    /// The timer is left armed: firing on an empty list disarms it, which costs less than a timer update per call.
    /// </summary>
    public bool Stop(HedgeWait wait)
    {
        lock (_lock)
        {
            if (!wait.Listed)
            {
                return false;
            }

            Unlink(wait);
            if (_freeCount < MaxPooled)
            {
                wait.Next = _free;
                _free = wait;
                _freeCount++;
            }

            return true;
        }
    }

    private void Tick()
    {
        HedgeWait? due = null;
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            while (_head is { } head && head.DueAt <= now)
            {
                Unlink(head);
                head.Next = due;
                due = head;
            }

            if (_head is { } next)
            {
                // Rounded up to the timer's millisecond: a rounded-down due time would fire early, again and again.
                var remaining = _time.GetElapsedTime(now, next.DueAt);
                _timer.Change(TimeSpan.FromMilliseconds(Math.Ceiling(remaining.TotalMilliseconds)), Timeout.InfiniteTimeSpan);
            }
            else
            {
                _armed = false;
            }
        }

        // Each woken wait starts its race on the thread pool, as each call's own timer did, not one after the other here.
        while (due is not null)
        {
            var wait = due;
            due = wait.Next;
            wait.Next = null;
            ThreadPool.UnsafeQueueUserWorkItem(wait, preferLocal: false);
        }
    }

    private void Unlink(HedgeWait wait)
    {
        if (wait.Prev is null)
        {
            _head = wait.Next;
        }
        else
        {
            wait.Prev.Next = wait.Next;
        }

        if (wait.Next is null)
        {
            _tail = wait.Prev;
        }
        else
        {
            wait.Next.Prev = wait.Prev;
        }

        wait.Prev = null;
        wait.Next = null;
        wait.Listed = false;
    }
}

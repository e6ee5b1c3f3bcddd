using Microsoft.Extensions.Time.Testing;

namespace Sidecar.Tests.Support;

/// <summary>
/// A <see cref="FakeTimeProvider"/> whose timers can be inspected: the signal a test waits for instead of
/// sleeping. A loop that goes to sleep arms a timer (Task.Delay, WaitAsync, PeriodicTimer, a CancelAfter),
/// a long-poll that parks arms one for its wait, and a callback runs inside <see cref="FakeTimeProvider.Advance"/>:
/// so "nothing fired" is known the moment Advance returns, and "it is waiting" the moment its timer is armed.
/// </summary>
public sealed class TestClock(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly List<ArmedTimer> _timers = [];
    private int _fired;

    /// <summary>How many timer callbacks have run so far (all inside Advance).</summary>
    public int Fired => Volatile.Read(ref _fired);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ArmedTimer(this, dueTime);
        timer.Inner = base.CreateTimer(s =>
        {
            Interlocked.Increment(ref _fired);
            callback(s);
        }, state, dueTime, period);
        lock (_timers)
        {
            _timers.Add(timer);
        }

        return timer;
    }

    /// <summary>How many timers are armed now (not disposed) whose last due time matches.</summary>
    public int Armed(Func<TimeSpan, bool> dueTime)
    {
        lock (_timers)
        {
            return _timers.Count(t => !t.Disposed && t.DueTime != Timeout.InfiniteTimeSpan && dueTime(t.DueTime));
        }
    }

    /// <summary>How many timers were ever armed (created or changed) with a matching due time.</summary>
    public int EverArmed(Func<TimeSpan, bool> dueTime)
    {
        lock (_timers)
        {
            return _timers.Sum(t => t.History.Count(dueTime));
        }
    }

    /// <summary>Waits (real time, bounded) until <paramref name="count"/> timers with a matching due time are armed.</summary>
    public Task WaitForArmedAsync(Func<TimeSpan, bool> dueTime, int count, string because) =>
        Eventually.TrueAsync(() => Armed(dueTime) >= count, because);

    private sealed class ArmedTimer : ITimer
    {
        private readonly TestClock _clock;

        public ArmedTimer(TestClock clock, TimeSpan dueTime)
        {
            _clock = clock;
            DueTime = dueTime;
            History.Add(dueTime);
        }

        public ITimer Inner { get; set; } = null!;

        public TimeSpan DueTime { get; private set; }

        public List<TimeSpan> History { get; } = [];

        public bool Disposed { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (_clock._timers)
            {
                DueTime = dueTime;
                History.Add(dueTime);
            }

            return Inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            lock (_clock._timers)
            {
                Disposed = true;
            }

            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            lock (_clock._timers)
            {
                Disposed = true;
            }

            return Inner.DisposeAsync();
        }
    }
}

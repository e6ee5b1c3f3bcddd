using Microsoft.Extensions.Time.Testing;
using Sidecar.Forwarding;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// A call's time-out whose timer is moved only when it must (<see cref="TimeoutSource"/>): it fires when its use is due,
/// never for a use that ended or moved on, and the timer is set again only for a due time before the one it is set for.
/// </summary>
[Trait("Category", "Unit")]
public sealed class TimeoutSourceTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Fact]
    public void AUse_IsCancelledWhenItsTimeOutIsDue_NotBefore()
    {
        var time = new CountingTime();
        using var source = new TimeoutSource(time);
        source.Start(TimeSpan.FromSeconds(10));

        time.Advance(TimeSpan.FromSeconds(10) - Ms);
        Assert.False(source.IsCancellationRequested);
        time.Advance(Ms);
        Assert.True(source.IsCancellationRequested);
        Assert.True(source.Token.IsCancellationRequested);
    }

    [Fact]
    public void ATimeOutMovedLater_FiresAtTheNewTime_WithTheTimerNotMoved()
    {
        var time = new CountingTime();
        using var source = new TimeoutSource(time);
        source.Start(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(4));
        source.Extend(TimeSpan.FromSeconds(30)); // due at 34 s

        Assert.Equal(1, time.Changes);
        time.Advance(TimeSpan.FromSeconds(10)); // 14 s: the timer fires and is set again for 34 s
        Assert.False(source.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(20) - Ms);
        Assert.False(source.IsCancellationRequested);
        time.Advance(Ms);
        Assert.True(source.IsCancellationRequested);
        Assert.Equal(2, time.Changes);
    }

    [Fact]
    public void ATimeOutMovedEarlier_FiresAtTheEarlierTime()
    {
        var time = new CountingTime();
        using var source = new TimeoutSource(time);
        source.Start(TimeSpan.FromSeconds(30));
        source.Extend(TimeSpan.FromSeconds(5));

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(source.IsCancellationRequested);
    }

    [Fact]
    public void AUseThatEnded_IsNeverCancelled_AndItsSourceIsKept()
    {
        var time = new CountingTime();
        using var source = new TimeoutSource(time);
        source.Start(TimeSpan.FromSeconds(10));
        var first = source.Source;
        source.End();

        time.Advance(TimeSpan.FromMinutes(1));

        Assert.False(first.IsCancellationRequested);
        Assert.Same(first, source.Source);
    }

    [Fact]
    public void TheNextUse_IsNotCancelledWhenTheLastUsesTimeComes_ButAtItsOwn()
    {
        var time = new CountingTime();
        using var source = new TimeoutSource(time);
        source.Start(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(6));
        source.End();
        source.Start(TimeSpan.FromSeconds(10)); // due at 16 s; the timer stays set for 10 s

        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(source.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(6) - Ms);
        Assert.False(source.IsCancellationRequested);
        time.Advance(Ms);
        Assert.True(source.IsCancellationRequested);
    }

    [Fact]
    public void TheNextUse_DueBeforeTheTimer_MovesIt()
    {
        var time = new CountingTime();
        using var source = new TimeoutSource(time);
        source.Start(TimeSpan.FromSeconds(60));
        source.End();
        source.Start(TimeSpan.FromSeconds(2));

        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(source.IsCancellationRequested);
        Assert.Equal(2, time.Changes);
    }

    [Fact]
    public void AFiredOrCancelledSource_IsReplacedForTheNextUse()
    {
        var time = new CountingTime();
        using var source = new TimeoutSource(time);
        source.Start(TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromSeconds(1));
        var fired = source.Source;
        Assert.True(fired.IsCancellationRequested);
        source.End();

        source.Start(TimeSpan.FromSeconds(1));
        Assert.NotSame(fired, source.Source);
        Assert.False(source.IsCancellationRequested);
        source.Source.Cancel(); // the caller left, or a hedge race was lost
        var cancelled = source.Source;
        source.End();

        source.Start(Timeout.InfiniteTimeSpan);
        Assert.NotSame(cancelled, source.Source);
        time.Advance(TimeSpan.FromDays(1));
        Assert.False(source.IsCancellationRequested);
    }

    [Fact]
    public void UsesOfOneTimeOut_OneAfterTheOther_SetTheTimerAboutTwicePerTimeOut()
    {
        var time = new CountingTime();
        using var source = new TimeoutSource(time);

        // 10,000 uses of 10 ms each, a second's time-out and a 30 s deadline: 100 s in all.
        for (var i = 0; i < 10_000; i++)
        {
            source.Start(TimeSpan.FromSeconds(1));
            time.Advance(TimeSpan.FromMilliseconds(5));
            source.Extend(TimeSpan.FromSeconds(30));
            time.Advance(TimeSpan.FromMilliseconds(5));
            Assert.False(source.IsCancellationRequested);
            source.End();
        }

        // A source's own timer (CancelAfter) would have moved 20,000 times. This one moves about twice per second of the 100:
        // it fires once a second, finds a use moved to its deadline and is set for it, and the next use, due sooner, sets it back.
        Assert.InRange(time.Changes, 180, 220);
    }

    [Fact]
    public void OnTheSystemClock_AUseFires_AndTheNextUseIsNeverBornCancelled()
    {
        using var source = new TimeoutSource(TimeProvider.System);
        source.Start(TimeSpan.FromMilliseconds(30));
        Assert.True(source.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(10)), "the time-out fired");
        source.End();

        // Uses of 1 ms, ended at once or after the timer fired, each followed by one of an hour: the timer firing for an
        // earlier use (or cancelling it while it ends) must never cancel a later one.
        for (var i = 0; i < 300; i++)
        {
            source.Start(Ms);
            Thread.SpinWait(i % 3 == 0 ? 0 : 20_000 * (i % 5));
            source.End();
            source.Start(TimeSpan.FromHours(1));
            Thread.SpinWait(5_000);
            Assert.False(source.IsCancellationRequested, $"use {i}");
            source.End();
        }
    }

    [Fact]
    public void TheSystemClocksSources_AreKeptAndReused()
    {
        var first = TimeoutSources.Rent(TimeProvider.System, TimeSpan.FromSeconds(5));
        TimeoutSources.Return(first, TimeProvider.System);
        var second = TimeoutSources.Rent(TimeProvider.System, TimeSpan.FromSeconds(5));
        TimeoutSources.Return(second, TimeProvider.System);

        Assert.Same(first, second);
        Assert.False(second.IsCancellationRequested);
    }

    /// <summary>A fake clock that counts how often its timers are set.</summary>
    private sealed class CountingTime : FakeTimeProvider
    {
        public int Changes { get; private set; }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            new Counted(this, base.CreateTimer(callback, state, dueTime, period));

        private sealed class Counted(CountingTime owner, ITimer inner) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                owner.Changes++;
                return inner.Change(dueTime, period);
            }

            public void Dispose() => inner.Dispose();

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}

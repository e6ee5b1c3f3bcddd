using Sidecar.Forwarding;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The service's <c>HedgeAfter</c> clock (docs/resilience.md#cost): one timer for all of a service's waiting first
/// attempts, armed for the oldest, woken in the order they came due; a wait taken off in time is never woken and is reused.
/// </summary>
[Trait("Category", "Unit")]
public sealed class HedgeClockTests
{
    private static readonly TimeSpan HedgeAfter = TimeSpan.FromMilliseconds(100);

    private readonly TestClock _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void AWaitComesDueAfterHedgeAfter_NotBefore()
    {
        var clock = new HedgeClock(HedgeAfter, _time);
        using var source = new CancellationTokenSource();
        var wait = clock.Start(source);
        var other = clock.Start(source);

        _time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.Equal(1, _time.Armed(d => d == HedgeAfter)); // one timer for both
        Assert.Equal(0, _time.Fired);
        Assert.True(clock.Stop(other)); // still listed: not taken by the clock

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(clock.Stop(wait)); // the clock took it (and wakes it on the thread pool)
        Assert.NotSame(wait, clock.Start(source)); // never reused: the clock may still wake it
    }

    [Fact]
    public void AWaitTakenOffInTime_IsReused_AndTheTimerDisarmsWhenItFindsNone()
    {
        var clock = new HedgeClock(HedgeAfter, _time);
        using var source = new CancellationTokenSource();
        var wait = clock.Start(source);
        Assert.True(clock.Stop(wait));

        Assert.Same(wait, clock.Start(source));
        Assert.True(clock.Stop(wait));
        Assert.Equal(1, _time.EverArmed(d => d == HedgeAfter)); // armed once for both calls, not per call

        _time.Advance(HedgeAfter); // fires on an empty list: disarmed, so the next call arms it again
        Assert.Equal(1, _time.Fired);
        clock.Start(source);
        Assert.Equal(2, _time.EverArmed(d => d == HedgeAfter));
    }

    [Fact]
    public void WaitsComeDueInTheOrderTheyStarted_TheTimerArmedForTheOldestLeft()
    {
        var clock = new HedgeClock(HedgeAfter, _time);
        using var source = new CancellationTokenSource();
        var a = clock.Start(source);
        _time.Advance(TimeSpan.FromMilliseconds(30));
        var b = clock.Start(source);
        _time.Advance(TimeSpan.FromMilliseconds(30));
        var c = clock.Start(source);
        Assert.True(clock.Stop(b)); // its attempt answered: the clock goes from a to c

        _time.Advance(TimeSpan.FromMilliseconds(40)); // a is due
        Assert.False(clock.Stop(a));
        Assert.Equal(1, _time.Armed(d => d == TimeSpan.FromMilliseconds(60))); // c is due 60 ms later

        _time.Advance(TimeSpan.FromMilliseconds(59));
        Assert.True(clock.Stop(c)); // not due yet, so still listed
        var d = clock.Start(source);
        Assert.Same(c, d); // reused
        _time.Advance(TimeSpan.FromMilliseconds(1)); // the timer finds d not due: armed again for it
        Assert.Equal(1, _time.Armed(due => due == TimeSpan.FromMilliseconds(99)));
        _time.Advance(TimeSpan.FromMilliseconds(98));
        Assert.True(clock.Stop(d));
    }

    [Fact]
    public void TheFirstAttemptsLeg_LosingCancelsTheSourceItRunsOn()
    {
        var clock = new HedgeClock(HedgeAfter, _time);
        using var source = new CancellationTokenSource();
        var wait = clock.Start(source);

        Assert.False(wait.Leg.Lost);
        wait.Leg.Lose();

        Assert.True(wait.Leg.Lost);
        Assert.True(source.IsCancellationRequested);
    }
}

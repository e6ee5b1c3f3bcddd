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

    private static Task Woken(HedgeWait wait, Task first) => wait.WaitAsync(first).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

    [Fact]
    public async Task AWaitComesDueAfterHedgeAfter_NotBefore()
    {
        var clock = new HedgeClock(HedgeAfter, _time);
        using var source = new CancellationTokenSource();
        var wait = clock.Start(source);
        var first = new TaskCompletionSource();

        _time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.Equal(1, _time.Armed(d => d == HedgeAfter));
        Assert.Equal(0, _time.Fired);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await Woken(wait, first.Task); // by the clock: the first attempt has not ended
        Assert.False(clock.Stop(wait)); // the clock took it
        Assert.NotSame(wait, clock.Start(source)); // and it is not reused: the clock may still wake it
    }

    [Fact]
    public async Task AFirstAttemptThatEnds_TakesItsWaitOff_WhichIsReused_AndTheTimerDisarmsWhenItFindsNone()
    {
        var clock = new HedgeClock(HedgeAfter, _time);
        using var source = new CancellationTokenSource();
        var wait = clock.Start(source);
        var first = new TaskCompletionSource();
        var woken = Woken(wait, first.Task);

        first.SetResult();
        await woken; // GetResult took it off the clock

        Assert.Same(wait, clock.Start(source));
        Assert.True(clock.Stop(wait));
        Assert.Equal(1, _time.EverArmed(d => d == HedgeAfter)); // armed once for both calls, not per call

        _time.Advance(HedgeAfter); // fires on an empty list: disarmed, so the next call arms it again
        Assert.Equal(1, _time.Fired);
        clock.Start(source);
        Assert.Equal(2, _time.EverArmed(d => d == HedgeAfter));
    }

    [Fact]
    public async Task WaitsComeDueInTheOrderTheyStarted_TheTimerArmedForTheOldestLeft()
    {
        var clock = new HedgeClock(HedgeAfter, _time);
        using var source = new CancellationTokenSource();
        var first = new TaskCompletionSource();
        var a = clock.Start(source);
        _time.Advance(TimeSpan.FromMilliseconds(30));
        var b = clock.Start(source);
        _time.Advance(TimeSpan.FromMilliseconds(30));
        var c = clock.Start(source);
        Assert.True(clock.Stop(b)); // its attempt answered: the clock goes from a to c

        _time.Advance(TimeSpan.FromMilliseconds(40)); // a is due
        await Woken(a, first.Task);
        Assert.Equal(1, _time.Armed(d => d == TimeSpan.FromMilliseconds(60))); // c is due 60 ms later

        _time.Advance(TimeSpan.FromMilliseconds(59));
        Assert.True(clock.Stop(c)); // not woken yet, so still listed
        var d = clock.Start(source);
        Assert.Same(c, d); // reused
        _time.Advance(TimeSpan.FromMilliseconds(1)); // the timer finds d not due: armed again for it
        Assert.Equal(1, _time.Armed(due => due == TimeSpan.FromMilliseconds(99)));
        _time.Advance(TimeSpan.FromMilliseconds(99));
        await Woken(d, first.Task);
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

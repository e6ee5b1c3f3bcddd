using Sidecar.Registration;
using Sidecar.Tests.Fakes;

namespace Sidecar.Tests.Registration;

public sealed class StatusUpdateRateLimiterTests
{
    [Fact]
    public void TryTake_AskedOftenWhileEmpty_GivesTheTokenAtExactlyTheTimePromised()
    {
        var time = RegisteredAgent.NewClock();
        var limiter = new StatusUpdateRateLimiter(1, 2, time); // a token every 30 s
        Assert.True(limiter.TryTake(out _));
        Assert.False(limiter.TryTake(out var promised));
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(30), promised);

        // Asked every second (the renew interval of a held change): no rounding may push the token later.
        for (var i = 1; i < 30; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.False(limiter.TryTake(out var next));
            Assert.Equal(promised, next);
        }

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limiter.TryTake(out _));
    }

    [Fact]
    public void TryTake_RefillsUpToTheBurstOnly()
    {
        var time = RegisteredAgent.NewClock();
        var limiter = new StatusUpdateRateLimiter(2, 4, time);
        Assert.True(limiter.TryTake(out _));
        Assert.True(limiter.TryTake(out _));
        Assert.False(limiter.TryTake(out _));

        time.Advance(TimeSpan.FromMinutes(10));
        Assert.True(limiter.TryTake(out _));
        Assert.True(limiter.TryTake(out _));
        Assert.False(limiter.TryTake(out var next));
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(15), next);
    }
}

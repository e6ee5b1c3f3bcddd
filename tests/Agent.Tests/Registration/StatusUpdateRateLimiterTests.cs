using Sidecar.Registration;
using Sidecar.Tests.Fakes;

namespace Sidecar.Tests.Registration;

[Trait("Category", "Unit")]
public sealed class StatusUpdateRateLimiterTests
{
    [Fact]
    public void TryTake_AskedOftenWhileEmpty_GivesTheTokenAtExactlyTheTimePromised()
    {
        var time = RegisteredAgent.NewClock();
        var limiter = new StatusUpdateRateLimiter(1, 2, time.GetUtcNow()); // a token every 30 s
        Assert.True(limiter.TryTake(time.GetUtcNow(), out limiter, out _));
        Assert.False(limiter.TryTake(time.GetUtcNow(), out limiter, out var promised));
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(30), promised);

        // Asked every second (the renew interval of a held change): no rounding may push the token later.
        for (var i = 1; i < 30; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.False(limiter.TryTake(time.GetUtcNow(), out limiter, out var next));
            Assert.Equal(promised, next);
        }

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limiter.TryTake(time.GetUtcNow(), out _, out _));
    }

    [Fact]
    public void TryTake_RefillsUpToTheBurstOnly()
    {
        var time = RegisteredAgent.NewClock();
        var limiter = new StatusUpdateRateLimiter(2, 4, time.GetUtcNow());
        Assert.True(limiter.TryTake(time.GetUtcNow(), out limiter, out _));
        Assert.True(limiter.TryTake(time.GetUtcNow(), out limiter, out _));
        Assert.False(limiter.TryTake(time.GetUtcNow(), out limiter, out _));

        time.Advance(TimeSpan.FromMinutes(10));
        Assert.True(limiter.TryTake(time.GetUtcNow(), out limiter, out _));
        Assert.True(limiter.TryTake(time.GetUtcNow(), out limiter, out _));
        Assert.False(limiter.TryTake(time.GetUtcNow(), out _, out var next));
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(15), next);
    }
}

using Sidecar.Observability;

namespace Sidecar.Tests.Observability;

/// <summary>The fixed ring behind the status page's charts, on a clock the test moves.</summary>
[Trait("Category", "Unit")]
public sealed class ServiceHistoryTests
{
    [Fact]
    public void TheRing_KeepsFifteenMinutesBySlot_AndForgetsOlderOnes()
    {
        long now = 1_000_000;
        var history = new ServiceHistory(() => now);

        history.Completed(200, 0.004); // 5 ms bucket
        history.Completed(503, 0.150); // 200 ms bucket
        history.Rejection();
        now += 15_000;
        history.Request(200);

        var points = history.Read();
        Assert.Equal(ServiceHistory.Slots, points.Requests.Length);
        Assert.Equal([2, 1], points.Requests[^2..]);
        Assert.Equal([1, 0], points.Errors[^2..]);
        Assert.Equal([1, 0], points.Rejections[^2..]);
        Assert.Equal(200, points.P99Ms[^2]);
        Assert.Null(points.P99Ms[^1]);
        Assert.Equal(3, points.Requests.Sum());

        // Fifteen minutes on, the old slots are out of the window; a reused slot starts from zero.
        now += 15 * 60 * 1000;
        history.Request(200);
        points = history.Read();
        Assert.Equal(1, points.Requests.Sum());
        Assert.Equal(1, points.Requests[^1]);
    }

    [Theory]
    [InlineData(0.0005, 1)]
    [InlineData(0.003, 5)]
    [InlineData(0.7, 1000)]
    [InlineData(45.0, 30000)]
    public void P99_IsTheUpperBoundOfItsBucket(double seconds, double expected)
    {
        var history = new ServiceHistory(() => 0);
        for (var i = 0; i < 100; i++)
        {
            history.Completed(200, i < 98 ? 0.0001 : seconds);
        }

        Assert.Equal(expected, history.Read().P99Ms[^1]);
    }
}

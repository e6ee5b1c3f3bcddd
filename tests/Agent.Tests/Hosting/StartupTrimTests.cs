using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Hosting;

namespace Sidecar.Tests.Hosting;

/// <summary>The one full GC after start-up (docs/performance.md#what-was-tuned): once, after the agent is ready and the delay has passed.</summary>
[Trait("Category", "Unit")]
public sealed class StartupTrimTests
{
    [Fact]
    public async Task Collects_Once_TheDelayAfterTheAgentIsReady()
    {
        var (lifetime, time, trim, calls) = Create();
        await trim.StartAsync(CancellationToken.None);
        time.Advance(StartupTrim.Delay * 2);
        Assert.Equal(0, calls()); // not ready yet: start-up is still allocating

        lifetime.Started();
        time.Advance(StartupTrim.Delay - TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, calls());
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, calls());
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, calls());
    }

    [Fact]
    public async Task Stopping_BeforeTheDelay_CancelsIt()
    {
        var (lifetime, time, trim, calls) = Create();
        await trim.StartAsync(CancellationToken.None);
        lifetime.Started();
        await trim.StopAsync(CancellationToken.None);
        time.Advance(StartupTrim.Delay * 2);
        Assert.Equal(0, calls());
    }

    private static (FakeLifetime Lifetime, FakeTimeProvider Time, StartupTrim Trim, Func<int> Calls) Create()
    {
        var lifetime = new FakeLifetime();
        var time = new FakeTimeProvider();
        var count = 0;
        var trim = new StartupTrim(lifetime, time) { Collect = () => Interlocked.Increment(ref count) };
        return (lifetime, time, trim, () => Volatile.Read(ref count));
    }

    private sealed class FakeLifetime : IHostApplicationLifetime
    {
        private readonly CancellationTokenSource _started = new();

        public CancellationToken ApplicationStarted => _started.Token;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void Started() => _started.Cancel();

        public void StopApplication()
        {
        }
    }
}

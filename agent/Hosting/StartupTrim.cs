using System.Runtime;

namespace Sidecar.Hosting;

/// <summary>
/// One compacting full GC that returns the freed memory to the system, a few seconds after the agent is ready:
/// start-up (configuration, DI, Kestrel, the first registration and registry fetch) leaves megabytes of garbage
/// that an idle agent would otherwise keep resident until load comes (docs/performance.md#what-was-tuned).
/// Registered for the agent process only: test hosts run many agents in one heap.
/// </summary>
internal sealed class StartupTrim(IHostApplicationLifetime lifetime, TimeProvider time) : IHostedService, IDisposable
{
    /// <summary>Long enough for the first registration and registry fetch, short against an idle agent's life.</summary>
    internal static readonly TimeSpan Delay = TimeSpan.FromSeconds(2);

    private ITimer? _timer;

    /// <summary>The collection; a test counts calls instead.</summary>
    internal Action Collect { get; init; } = CollectAndDecommit;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // A timer callback runs on the thread pool, never on a socket thread (docs/performance.md: inline I/O).
        lifetime.ApplicationStarted.Register(() => _timer = time.CreateTimer(_ => Collect(), null, Delay, Timeout.InfiniteTimeSpan));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _timer?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _timer?.Dispose();

    private static void CollectAndDecommit()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}

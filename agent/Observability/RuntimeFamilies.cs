using Prometheus;

namespace Sidecar.Observability;

/// <summary>
/// The agent's garbage collector, read when scraped (docs/observability.md#metrics-get-metrics): bytes allocated, collections
/// by generation and the time paused, under OpenTelemetry's .NET runtime names as its Prometheus exporter writes them
/// (<c>dotnet.gc.heap.total_allocated</c>, <c>dotnet.gc.collections</c>, <c>dotnet.gc.pause.time</c>). Allocations per
/// forwarded request are what the benchmarks read (docs/performance.md): unlike CPU time they do not move with the machine's load.
/// </summary>
internal sealed class RuntimeFamilies
{
    private static readonly string[] Generations = ["gen0", "gen1", "gen2"];

    private readonly Counter _allocated;
    private readonly Counter.Child[] _collections;
    private readonly Counter _paused;

    public RuntimeFamilies(IMetricFactory f)
    {
        _allocated = f.CreateCounter("dotnet_gc_heap_total_allocated_bytes_total", "Bytes the agent has allocated on the managed heap since it started.");
        var collections = f.CreateCounter("dotnet_gc_collections_total",
            "Garbage collections since the agent started, by the oldest generation collected.", ["gc_heap_generation"]);
        _collections = Array.ConvertAll(Generations, g => collections.WithLabels(g));
        _paused = f.CreateCounter("dotnet_gc_pause_time_seconds_total", "Time the agent's threads were paused by the garbage collector, in seconds.");
    }

    public void Update()
    {
        _allocated.IncTo(GC.GetTotalAllocatedBytes());

        // GC.CollectionCount(n) counts every collection of generation n or older: each generation's own are the difference.
        var older = 0;
        for (var generation = Generations.Length - 1; generation >= 0; generation--)
        {
            var count = GC.CollectionCount(generation);
            _collections[generation].IncTo(count - older);
            older = count;
        }

        _paused.IncTo(GC.GetTotalPauseDuration().TotalSeconds);
    }
}

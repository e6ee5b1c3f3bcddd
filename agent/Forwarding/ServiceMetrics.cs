using System.Diagnostics;
using Prometheus;
using Sidecar.Observability;

namespace Sidecar.Forwarding;

/// <summary>
/// The forwarding counters of one service, held by its <see cref="ServicePool"/> so the hot path
/// reaches them without a lookup: a few <see cref="Interlocked"/> adds per request and one
/// histogram observation, no lock, no allocation (the per-method status arrays are created once,
/// on first use). <see cref="PrometheusMetrics"/> copies the counts into the registry at scrape time.
/// </summary>
internal sealed class ServiceMetrics
{
    /// <summary>Status codes 100-599 each have a cell; anything else (an upstream may send 999) shares the last one.</summary>
    private const int CodeCells = 501;

    /// <summary>The agent's own answers, by <c>X-Sidecar-Error</c> code (a fixed set).</summary>
    public static readonly string[] ErrorLabels =
    [
        ForwardingProblems.BadRequest, ForwardingProblems.BadPath, ForwardingProblems.UnknownService,
        ForwardingProblems.BodyTooLarge, ForwardingProblems.UpstreamUnreachable, ForwardingProblems.NoInstance,
        ForwardingProblems.DeadlineExceeded, ForwardingProblems.UpstreamTimeout, ForwardingProblems.LoopDetected,
        ForwardingProblems.MethodNotAllowed, ForwardingProblems.BadUpstreamResponse,
        ForwardingProblems.ConcurrencyLimit, ForwardingProblems.RateLimited, ForwardingProblems.CircuitOpen,
        ForwardingProblems.Draining,
    ];

    private readonly long[]?[] _requests = new long[]?[MethodClass.Labels.Length];
    private readonly long[] _retries = new long[RetryReasons.Labels.Length];
    private readonly long[] _errors = new long[ErrorLabels.Length];
    private readonly AgentEventLog? _events;
    private readonly Histogram.Child? _latency;
    private readonly long[] _upgrades = new long[UpgradeOutcomes.Labels.Length];
    private long _budgetExhausted;
    private long _hedges;
    private long _hedgesWon;
    private long _ejections;
    private long _upgradesActive;
    private long _upgradeBytesToInstance;
    private long _upgradeBytesToCaller;
    private long _circuitOpenings;
    private long _cacheHits;
    private long _cacheMisses;
    private long _cacheRevalidated;

    /// <param name="name">The <c>service</c> label.</param>
    /// <param name="events">Where ejections are told.</param>
    /// <param name="latency">This service's series of <c>sidecar_forward_duration_seconds</c>; none for <c>unknown</c>, whose requests are counted, not timed.</param>
    public ServiceMetrics(string name, AgentEventLog? events = null, Histogram.Child? latency = null)
    {
        Name = name;
        _events = events;
        _latency = latency;
    }

    /// <summary>The last 15 minutes, for the status page's charts.</summary>
    public ServiceHistory History { get; } = new();

    /// <summary>The <c>service</c> label: a name the catalog knows (lower case), or <c>unknown</c>.</summary>
    public string Name { get; }

    public long Ejections => Volatile.Read(ref _ejections);

    /// <summary>How many times the service's circuit breaker opened.</summary>
    public long CircuitOpenings => Volatile.Read(ref _circuitOpenings);

    /// <summary>One forwarded request answered with <paramref name="status"/> after <paramref name="elapsedTicks"/> (Stopwatch ticks).</summary>
    public void Completed(int methodClass, int status, long elapsedTicks)
    {
        CountCode(methodClass, status);
        var seconds = Math.Max(0, elapsedTicks) / (double)Stopwatch.Frequency;
        _latency?.Observe(seconds, Exemplar.None);
        History.Completed(status, seconds);
    }

    /// <summary>A request refused before it was forwarded (bad path, unknown service...): counted, not timed.</summary>
    public void Count(int methodClass, int status)
    {
        CountCode(methodClass, status);
        History.Request(status);
    }

    private void CountCode(int methodClass, int status)
    {
        var cells = Volatile.Read(ref _requests[methodClass]) ?? Allocate(methodClass);
        var index = status is >= 100 and <= 599 ? status - 100 : CodeCells - 1;
        Interlocked.Increment(ref cells[index]);
    }

    public void Retried(RetryReason reason) => Interlocked.Increment(ref _retries[(int)reason]);

    public void RetryBudgetExhausted() => Interlocked.Increment(ref _budgetExhausted);

    /// <summary>A hedged attempt was sent (docs/resilience.md#hedging).</summary>
    public void Hedged() => Interlocked.Increment(ref _hedges);

    /// <summary>A hedged attempt answered before the first one.</summary>
    public void HedgeWon() => Interlocked.Increment(ref _hedgesWon);

    public long Hedges => Volatile.Read(ref _hedges);

    public long HedgesWon => Volatile.Read(ref _hedgesWon);

    /// <summary>The agent answered with one of its own problems (<see cref="ForwardingProblems"/>).</summary>
    public void Error(string code)
    {
        var index = Array.IndexOf(ErrorLabels, code);
        if (index >= 0)
        {
            Interlocked.Increment(ref _errors[index]);
            if (code is ForwardingProblems.ConcurrencyLimit or ForwardingProblems.RateLimited or ForwardingProblems.CircuitOpen)
            {
                History.Rejection();
            }
        }
    }

    public void Ejected(string instanceId, TimeSpan duration, int failures)
    {
        Interlocked.Increment(ref _ejections);
        _events?.Add(AgentEventKind.Ejection,
            $"{Name}: instance {instanceId} ejected for {Configuration.DurationParser.Format(duration)} after {failures} consecutive failures");
    }

    /// <summary>An upgrade request (WebSocket) ended its handshake this way (docs/forwarding.md#websocket-and-other-upgrades).</summary>
    public void Upgrade(UpgradeOutcome outcome) => Interlocked.Increment(ref _upgrades[(int)outcome]);

    /// <summary>An upgraded connection opened (+1) or closed (-1).</summary>
    public void UpgradeActive(int delta) => Interlocked.Add(ref _upgradesActive, delta);

    /// <summary>Bytes an upgraded connection carried from the caller to the instance, or back.</summary>
    public void UpgradeBytes(bool toInstance, long bytes) =>
        Interlocked.Add(ref toInstance ? ref _upgradeBytesToInstance : ref _upgradeBytesToCaller, bytes);

    public long UpgradeCount(UpgradeOutcome outcome) => Volatile.Read(ref _upgrades[(int)outcome]);

    public long UpgradesActive => Volatile.Read(ref _upgradesActive);

    public long UpgradeBytesToInstance => Volatile.Read(ref _upgradeBytesToInstance);

    public long UpgradeBytesToCaller => Volatile.Read(ref _upgradeBytesToCaller);

    /// <summary>Answered from the response cache without a call (<c>hit</c>), after a call (<c>miss</c>), or after a <c>304</c> to a revalidation (<c>revalidated</c>).</summary>
    public void Cache(CacheResult result)
    {
        switch (result)
        {
            case CacheResult.Hit:
                Interlocked.Increment(ref _cacheHits);
                break;
            case CacheResult.Revalidated:
                Interlocked.Increment(ref _cacheRevalidated);
                break;
            default:
                Interlocked.Increment(ref _cacheMisses);
                break;
        }
    }

    public long CacheHits => Volatile.Read(ref _cacheHits);

    public long CacheMisses => Volatile.Read(ref _cacheMisses);

    public long CacheRevalidated => Volatile.Read(ref _cacheRevalidated);

    /// <summary>The service's circuit breaker changed state (rare: under the breaker's lock, off the hot path).</summary>
    public void CircuitChanged(CircuitState state)
    {
        if (state == CircuitState.Open)
        {
            Interlocked.Increment(ref _circuitOpenings);
        }

        _events?.Add(AgentEventKind.Circuit, state switch
        {
            CircuitState.Open => $"{Name}: circuit opened",
            CircuitState.HalfOpen => $"{Name}: circuit half-open, one trial call",
            _ => $"{Name}: circuit closed",
        });
    }

    /// <summary>(method, status, count) for every non-zero cell.</summary>
    public IEnumerable<(string Method, string Code, long Count)> Requests()
    {
        for (var m = 0; m < _requests.Length; m++)
        {
            if (Volatile.Read(ref _requests[m]) is not { } cells)
            {
                continue;
            }

            for (var i = 0; i < cells.Length; i++)
            {
                var count = Volatile.Read(ref cells[i]);
                if (count != 0)
                {
                    var code = i == CodeCells - 1 ? "other" : (i + 100).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    yield return (MethodClass.Labels[m], code, count);
                }
            }
        }
    }

    public long RetryCount(RetryReason reason) => Volatile.Read(ref _retries[(int)reason]);

    public long BudgetExhaustedCount => Volatile.Read(ref _budgetExhausted);

    public long ErrorCount(int index) => Volatile.Read(ref _errors[index]);

    private long[] Allocate(int methodClass)
    {
        Interlocked.CompareExchange(ref _requests[methodClass], new long[CodeCells], null);
        return _requests[methodClass]!;
    }
}

/// <summary>The <c>result</c> label of <c>sidecar_forward_cache_requests_total</c>.</summary>
internal enum CacheResult
{
    Hit,
    Miss,
    Revalidated,
}

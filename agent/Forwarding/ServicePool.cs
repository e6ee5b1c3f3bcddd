using Polly;
using Sidecar.Discovery;
using Sidecar.Eureka;

namespace Sidecar.Forwarding;

/// <summary>
/// One service as the forwarder sees it: its UP instances (cached per catalog version, split by
/// zone), their balancing and ejection state, its policy, resilience pipelines and retry budget.
/// Picking is allocation-free: a scan of a small array, no LINQ, no lock.
/// </summary>
internal sealed class ServicePool
{
    private readonly Lock _lock = new();
    private readonly string? _zone;
    private readonly TimeProvider _time;
    private readonly ForwardingLog _log;
    private Dictionary<(string, string), InstanceState> _states = [];
    private Snapshot _snapshot = Snapshot.Empty;
    private long _version = -1;
    private long _pickSequence;

    public ServicePool(string name, ServicePolicy policy, string? zone, TimeProvider time, ForwardingLog log, ServiceMetrics? metrics = null, ResponseCache? cache = null)
    {
        Cache = cache;
        Name = name;
        Metrics = metrics ?? new ServiceMetrics(name);
        Policy = policy;
        _zone = zone;
        _time = time;
        _log = log;
        Budget = new RetryBudget(policy.RetryBudgetPercent, policy.RetryBudgetMinPerSecond, time);
        Pipelines = new ForwardingPipelines(policy, time);
        if (policy.Resilience.HedgeAfter is { } hedgeAfter)
        {
            Hedges = new HedgeClock(hedgeAfter, time);
        }

        if (policy.Resilience.Admits)
        {
            Admission = new ServiceAdmission(policy.Resilience, time, state => Metrics.CircuitChanged(state));
        }
    }

    public string Name { get; }

    public ServicePolicy Policy { get; }

    /// <summary>This service's counters (requests, latency, retries, ejections).</summary>
    public ServiceMetrics Metrics { get; }

    public RetryBudget Budget { get; }

    public ForwardingPipelines Pipelines { get; }

    /// <summary>Bulkhead, rate limit and circuit breaker (docs/resilience.md); null when the service has none.</summary>
    public ServiceAdmission? Admission { get; }

    /// <summary>The <c>HedgeAfter</c> clock of the service's hedgeable calls (docs/resilience.md#hedging); null without hedging.</summary>
    public HedgeClock? Hedges { get; }

    /// <summary>The response cache when the service has <c>Cache=true</c>; null otherwise.</summary>
    public ResponseCache? Cache { get; }

    public TimeProvider Time => _time;

    public long Version => Volatile.Read(ref _version);

    /// <summary>The UP instances, local zone first (for diagnostics and tests).</summary>
    public IReadOnlyList<InstanceState> Instances => Volatile.Read(ref _snapshot).All;

    /// <summary>Rebuilds the instance arrays from the catalog's answer when its version moved.</summary>
    public void Update(IReadOnlyList<ServiceInstance> instances, long version)
    {
        lock (_lock)
        {
            if (_version == version)
            {
                return;
            }

            var states = new Dictionary<(string, string), InstanceState>(instances.Count);
            var local = new List<InstanceState>(instances.Count);
            var remote = new List<InstanceState>();
            for (var i = 0; i < instances.Count; i++)
            {
                var instance = instances[i];
                if (instance.Status != InstanceStatus.Up)
                {
                    continue;
                }

                var key = (instance.InstanceId, instance.BaseUri.OriginalString);
                if (states.ContainsKey(key))
                {
                    continue;
                }

                // Keep what we learnt about an instance (failures, ejection) across registry refreshes.
                if (!_states.TryGetValue(key, out var state) || state.Instance.Zone != instance.Zone)
                {
                    state = new InstanceState(instance, _zone) { Breaker = Admission?.Breaker };
                }

                states[key] = state;
                (state.IsLocalZone ? local : remote).Add(state);
            }

            _states = states;
            Volatile.Write(ref _snapshot, new Snapshot([.. local], [.. remote]));
            Volatile.Write(ref _version, version);
        }
    }

    /// <summary>
    /// Power of two choices on requests in flight (ties go to the least recently picked), among UP
    /// and non-ejected instances: same zone first, then other zones; instances this call already
    /// tried only when nothing else is left; instances held by a 429's <c>Retry-After</c> only when
    /// every available instance is held. Null when no instance is available.
    /// </summary>
    public InstanceState? Pick(CallInstances? call)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        var now = _time.GetTimestamp();
        var chosen = Pick(snapshot, call, now, skipHeld: true);
        if (chosen is null)
        {
            // Every available instance answered 429 lately: one of them is better than no answer
            // (the app gets its 429 and Retry-After, and decides).
            chosen = Pick(snapshot, call, now, skipHeld: false);
        }

        chosen?.Acquire(Interlocked.Increment(ref _pickSequence));
        return chosen;
    }

    /// <summary>
    /// As <see cref="Pick(CallInstances?)"/> for a connection of a TCP listener: the same choice among the instances
    /// not in <paramref name="tried"/> (docs/forwarding.md#tcp-listeners); null when none of them is available.
    /// </summary>
    public InstanceState? PickExcept(IReadOnlyCollection<InstanceState> tried)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if (tried.Count > 0)
        {
            snapshot = new Snapshot([.. snapshot.Local.Where(s => !tried.Contains(s))], [.. snapshot.Remote.Where(s => !tried.Contains(s))]);
        }

        var now = _time.GetTimestamp();
        var chosen = Pick(snapshot, null, now, skipHeld: true) ?? Pick(snapshot, null, now, skipHeld: false);
        chosen?.Acquire(Interlocked.Increment(ref _pickSequence));
        return chosen;
    }

    private static InstanceState? Pick(Snapshot snapshot, CallInstances? call, long now, bool skipHeld)
    {
        var chosen = PickFrom(snapshot.Local, call, now, skipTried: true, skipHeld)
            ?? PickFrom(snapshot.Remote, call, now, skipTried: true, skipHeld);
        if (chosen is null && call?.HasTriedAny == true)
        {
            chosen = PickFrom(snapshot.Local, null, now, skipTried: false, skipHeld) ?? PickFrom(snapshot.Remote, null, now, skipTried: false, skipHeld);
        }

        return chosen;
    }

    private static InstanceState? PickFrom(InstanceState[] candidates, CallInstances? call, long now, bool skipTried, bool skipHeld)
    {
        var eligible = 0;
        for (var i = 0; i < candidates.Length; i++)
        {
            if (IsEligible(candidates[i], call, now, skipTried, skipHeld))
            {
                eligible++;
            }
        }

        if (eligible == 0)
        {
            return null;
        }

        if (eligible == 1)
        {
            for (var i = 0; i < candidates.Length; i++)
            {
                if (IsEligible(candidates[i], call, now, skipTried, skipHeld))
                {
                    return candidates[i];
                }
            }
        }

        var first = Random.Shared.Next(eligible);
        var second = Random.Shared.Next(eligible - 1);
        if (second >= first)
        {
            second++;
        }

        InstanceState? a = null, b = null;
        for (int i = 0, n = 0; i < candidates.Length && (a is null || b is null); i++)
        {
            if (!IsEligible(candidates[i], call, now, skipTried, skipHeld))
            {
                continue;
            }

            if (n == first)
            {
                a = candidates[i];
            }
            else if (n == second)
            {
                b = candidates[i];
            }

            n++;
        }

        var outstandingA = a!.Outstanding;
        var outstandingB = b!.Outstanding;
        if (outstandingA != outstandingB)
        {
            return outstandingA < outstandingB ? a : b;
        }

        return a.LastPicked <= b.LastPicked ? a : b;
    }

    private static bool IsEligible(InstanceState state, CallInstances? call, long now, bool skipTried, bool skipHeld) =>
        !state.IsEjected(now) && !(skipHeld && state.IsHeld(now)) && !(skipTried && call is not null && call.HasTried(state));

    /// <summary>A response below 500: the instance is healthy (4xx is the caller's problem, never the instance's).</summary>
    public static void RecordSuccess(InstanceState state)
    {
        state.ResetFailures();
        state.Breaker?.RecordSuccess();
    }

    /// <summary>The longest a 429's <c>Retry-After</c> keeps an instance from new calls: a far date (or a typo) must not take it out for hours.</summary>
    public static readonly TimeSpan MaxHold = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A 429 with <c>Retry-After</c>: no new call goes to the instance until then (at most <see cref="MaxHold"/>),
    /// while another instance is available. Not a failure (docs/forwarding.md: 4xx never counts), not ejection, not retried.
    /// </summary>
    public void Hold(InstanceState state, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        state.Hold(_time.GetTimestamp() + ToTicks(delay < MaxHold ? delay : MaxHold));
    }

    /// <summary>A connect error, 5xx or per-try time-out; ejects the instance after too many in a row, and counts for the service's circuit breaker.</summary>
    public void RecordFailure(InstanceState state)
    {
        state.Breaker?.RecordFailure();
        var failures = state.AddFailure();
        if (Policy.EjectionFailures == 0 || failures < Policy.EjectionFailures)
        {
            return;
        }

        lock (_lock)
        {
            var now = _time.GetTimestamp();
            if (state.IsEjected(now) || state.ConsecutiveFailures < Policy.EjectionFailures)
            {
                return;
            }

            // Never eject more than MaxEjectionPercent of the instances: with too few left the rest
            // would drown (Envoy's max_ejection_percent). The failures keep counting; the instance is
            // ejected as soon as another one comes back.
            var all = _snapshot.All;
            var ejected = 0;
            var listed = false;
            foreach (var other in all)
            {
                listed |= ReferenceEquals(other, state);
                if (other.IsEjected(now))
                {
                    ejected++;
                }
            }

            if (!listed || (ejected + 1) * 100 > all.Length * Policy.MaxEjectionPercent)
            {
                _log.EjectionRefused(Name, state.Instance.InstanceId, ejected, all.Length);
                return;
            }

            // The n-th ejection lasts n times the base, capped; an instance that stayed in for the
            // longest ejection time since it came back starts again from the first.
            if (state.EjectedUntil != 0 && now - state.EjectedUntil >= ToTicks(Policy.MaxEjectionTime))
            {
                state.Ejections = 0;
            }

            state.Ejections++;
            var duration = Policy.EjectionTime * state.Ejections;
            if (duration > Policy.MaxEjectionTime)
            {
                duration = Policy.MaxEjectionTime;
            }

            state.Eject(now + ToTicks(duration));
            _log.Ejected(Name, state.Instance.InstanceId, duration, failures, state.Ejections);
            Metrics.Ejected(state.Instance.InstanceId, duration, failures);
        }
    }

    private long ToTicks(TimeSpan duration) => (long)(duration.TotalSeconds * _time.TimestampFrequency);

    private sealed class Snapshot(InstanceState[] local, InstanceState[] remote)
    {
        public static readonly Snapshot Empty = new([], []);

        public InstanceState[] Local { get; } = local;

        public InstanceState[] Remote { get; } = remote;

        public InstanceState[] All { get; } = [.. local, .. remote];
    }
}

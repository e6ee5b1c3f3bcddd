namespace Sidecar.Forwarding;

/// <summary>The state of a service's circuit breaker (the status page and <c>sidecar_forward_circuit_state</c>: 0, 1, 2).</summary>
internal enum CircuitState
{
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
}

/// <summary>
/// The circuit breaker of one service, over all its instances (docs/resilience.md#circuit-breaker):
/// closed, it counts the outcomes of attempts in a sliding window (ten buckets over the sampling
/// duration) and opens when at least <c>MinimumThroughput</c> attempts were seen and the failed share
/// reaches <c>FailureRatio</c>; open, it refuses calls until the break duration is over; then one trial
/// call goes through (half-open), whose outcome closes it or opens it again.
/// Written by hand rather than with Polly's circuit breaker strategy: Polly's learns only the outcomes
/// of the executions it wraps, while the agent admits a call before any instance is picked and learns
/// outcomes per attempt, at the points where ejection learns them (<see cref="ServicePool.RecordFailure"/>,
/// <see cref="ServicePool.RecordSuccess"/>); wrapping the whole call in a Polly pipeline would cost the
/// async layers the fast path avoids (docs/performance.md#what-was-tuned) and still see one outcome per call.
/// </summary>
internal sealed class CircuitBreaker
{
    private const int Buckets = 10;

    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly ResiliencePolicy _policy;
    private readonly long _bucketTicks;
    private readonly long _breakTicks;
    private readonly long[] _successes = new long[Buckets];
    private readonly long[] _failures = new long[Buckets];
    private readonly long[] _bucketIds = new long[Buckets];
    private readonly Action<CircuitState>? _changed;
    private int _state;
    private long _openUntil;
    private bool _trialTaken;

    public CircuitBreaker(ResiliencePolicy policy, TimeProvider time, Action<CircuitState>? changed = null)
    {
        _policy = policy;
        _time = time;
        _changed = changed;
        _bucketTicks = Math.Max(1, (long)(policy.CircuitBreakerSamplingDuration.TotalSeconds * time.TimestampFrequency / Buckets));
        _breakTicks = (long)(policy.CircuitBreakerBreakDuration.TotalSeconds * time.TimestampFrequency);
        Array.Fill(_bucketIds, -1);
    }

    public CircuitState State => (CircuitState)Volatile.Read(ref _state);

    /// <summary>How many times the circuit opened.</summary>
    public long Openings { get; private set; }

    /// <summary>
    /// Whether a call may go on. Closed: yes, at the cost of one field read. Open: no, with the time left
    /// of the break. After the break: yes for one call (<paramref name="trial"/>), no for the others until
    /// its outcome is known.
    /// </summary>
    public bool TryAdmit(out TimeSpan retryAfter, out bool trial)
    {
        trial = false;
        retryAfter = TimeSpan.Zero;
        if (Volatile.Read(ref _state) == (int)CircuitState.Closed)
        {
            return true;
        }

        var now = _time.GetTimestamp();
        lock (_lock)
        {
            switch ((CircuitState)_state)
            {
                case CircuitState.Closed:
                    return true;
                case CircuitState.Open when now < _openUntil:
                    retryAfter = _time.GetElapsedTime(now, _openUntil);
                    return false;
                case CircuitState.Open:
                    Change(CircuitState.HalfOpen);
                    _trialTaken = trial = true;
                    return true;
                default: // half-open
                    if (_trialTaken)
                    {
                        retryAfter = _policy.CircuitBreakerBreakDuration;
                        return false;
                    }

                    _trialTaken = trial = true;
                    return true;
            }
        }
    }

    /// <summary>The trial call ended: when it told nothing (no instance, the caller left), the next call is the trial.</summary>
    public void EndTrial()
    {
        lock (_lock)
        {
            _trialTaken = false;
        }
    }

    /// <summary>An attempt got an answer below 500 (4xx included: the caller's problem, not the service's).</summary>
    public void RecordSuccess() => Record(failed: false);

    /// <summary>A connect error, 5xx or time-out of an attempt.</summary>
    public void RecordFailure() => Record(failed: true);

    private void Record(bool failed)
    {
        var now = _time.GetTimestamp();
        var id = now / _bucketTicks;
        var slot = (int)(id % Buckets);
        if (!failed && Volatile.Read(ref _state) == (int)CircuitState.Closed && Volatile.Read(ref _bucketIds[slot]) == id)
        {
            // The common case, a success while closed in the current bucket: no lock. A bucket is zeroed
            // before its id is written (below), so a success counted here is never wiped by a late reset.
            Interlocked.Increment(ref _successes[slot]);
            return;
        }

        lock (_lock)
        {
            switch ((CircuitState)_state)
            {
                case CircuitState.Open:
                    return; // a late outcome of a call admitted before the circuit opened
                case CircuitState.HalfOpen:
                    if (failed)
                    {
                        Open(now);
                    }
                    else
                    {
                        Array.Clear(_successes);
                        Array.Clear(_failures);
                        Change(CircuitState.Closed);
                    }

                    return;
            }

            if (_bucketIds[slot] != id)
            {
                Volatile.Write(ref _successes[slot], 0);
                _failures[slot] = 0;
                Volatile.Write(ref _bucketIds[slot], id);
            }

            if (!failed)
            {
                Interlocked.Increment(ref _successes[slot]);
                return;
            }

            _failures[slot]++;
            long total = 0, failures = 0;
            for (var i = 0; i < Buckets; i++)
            {
                if (id - _bucketIds[i] < Buckets)
                {
                    total += Volatile.Read(ref _successes[i]) + _failures[i];
                    failures += _failures[i];
                }
            }

            if (total >= _policy.CircuitBreakerMinimumThroughput && failures >= _policy.CircuitBreakerFailureRatio * total)
            {
                Open(now);
            }
        }
    }

    private void Open(long now)
    {
        _openUntil = now + _breakTicks;
        _trialTaken = false;
        Array.Clear(_successes);
        Array.Clear(_failures);
        Openings++;
        Change(CircuitState.Open);
    }

    private void Change(CircuitState state)
    {
        Volatile.Write(ref _state, (int)state);
        _changed?.Invoke(state);
    }
}

using Sidecar.Discovery;

namespace Sidecar.Forwarding;

/// <summary>
/// What the balancer knows about one instance beyond the catalog: requests in flight (for
/// power-of-two-choices), consecutive failures and ejection (outlier detection). It outlives
/// catalog refreshes for as long as the instance stays listed.
/// </summary>
internal sealed class InstanceState
{
    private int _outstanding;
    private int _consecutiveFailures;
    private long _lastPicked;
    private long _ejectedUntil;
    private long _heldUntil;
    private long _requests;
    private long _failures;

    public InstanceState(ServiceInstance instance, string? agentZone)
    {
        Instance = instance;
        var baseUri = instance.BaseUri.GetLeftPart(UriPartial.Authority);
        Prefix = baseUri;
        Origin = new Http1.Http1Origin(baseUri);
        IsLocalZone = agentZone is null || string.Equals(agentZone, instance.Zone, StringComparison.OrdinalIgnoreCase);
    }

    public ServiceInstance Instance { get; }

    /// <summary>The circuit breaker of the instance's service, told of its outcomes with the ejection counts; null when off.</summary>
    public CircuitBreaker? Breaker { get; init; }

    /// <summary><c>http://host:port</c>, to which the origin-form path is appended.</summary>
    public string Prefix { get; }

    /// <summary>The prefix parsed once, for the lean client (docs/performance.md#the-lean-http11-upstream-client).</summary>
    public Http1.Http1Origin Origin { get; }

    /// <summary>True when the instance is in this agent's zone, or when the agent has no zone.</summary>
    public bool IsLocalZone { get; }

    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>A sequence number of the last pick: the tie-break that spreads sequential calls evenly.</summary>
    public long LastPicked => Volatile.Read(ref _lastPicked);

    public int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    /// <summary>Attempts sent to this instance, ever (the status page's error rate).</summary>
    public long Requests => Volatile.Read(ref _requests);

    /// <summary>Failures (connect errors, 5xx, time-outs) of this instance, ever.</summary>
    public long Failures => Volatile.Read(ref _failures);

    /// <summary>Timestamp (of the TimeProvider) until which the instance is ejected; 0 when it never was.</summary>
    public long EjectedUntil => Volatile.Read(ref _ejectedUntil);

    /// <summary>How many times the instance was ejected (since its count was last reset); guarded by the pool's lock.</summary>
    public int Ejections { get; set; }

    public bool IsEjected(long now) => Volatile.Read(ref _ejectedUntil) > now;

    /// <summary>True while a 429's <c>Retry-After</c> holds: new calls go elsewhere when they can.</summary>
    public bool IsHeld(long now) => Volatile.Read(ref _heldUntil) > now;

    /// <summary>The instance's latest <c>Retry-After</c> wins, shorter or longer: it knows its own load best.</summary>
    public void Hold(long until) => Volatile.Write(ref _heldUntil, until);

    public void Acquire(long pickSequence)
    {
        Interlocked.Increment(ref _outstanding);
        Interlocked.Increment(ref _requests);
        Volatile.Write(ref _lastPicked, pickSequence);
    }

    public void Release() => Interlocked.Decrement(ref _outstanding);

    public int AddFailure()
    {
        Interlocked.Increment(ref _failures);
        return Interlocked.Increment(ref _consecutiveFailures);
    }

    public void ResetFailures()
    {
        // Read first: the common case (no failures) must not write to a shared cache line.
        if (Volatile.Read(ref _consecutiveFailures) != 0)
        {
            Volatile.Write(ref _consecutiveFailures, 0);
        }
    }

    public void Eject(long until)
    {
        Volatile.Write(ref _ejectedUntil, until);
        Volatile.Write(ref _consecutiveFailures, 0);
    }
}

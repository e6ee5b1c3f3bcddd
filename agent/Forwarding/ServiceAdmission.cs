using System.Threading.RateLimiting;

namespace Sidecar.Forwarding;

/// <summary>
/// What a call to one service must pass before the forwarder makes it (docs/resilience.md): the rate
/// limit, the bulkhead and the circuit breaker, each only when its setting is on. A service with none of
/// them has no admission object at all, so its calls pay nothing for it.
/// </summary>
internal sealed class ServiceAdmission
{
    public ServiceAdmission(ResiliencePolicy policy, TimeProvider time, Action<CircuitState>? circuitChanged = null)
    {
        Policy = policy;
        if (policy.MaxConcurrentRequests > 0 && policy.MaxQueuedRequests == 0)
        {
            Slots = new BulkheadSlots(policy.MaxConcurrentRequests);
        }
        else if (policy.MaxConcurrentRequests > 0)
        {
            // System.Threading.RateLimiting's limiter: a lock-guarded count and a FIFO queue, no timer.
            Bulkhead = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
            {
                PermitLimit = policy.MaxConcurrentRequests,
                QueueLimit = policy.MaxQueuedRequests,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            });
        }

        if (policy.RateLimit > 0)
        {
            Rate = new TokenBucket(policy.RateLimit, policy.RateLimitBurst, time);
        }

        if (policy.CircuitBreaker)
        {
            Breaker = new CircuitBreaker(policy, time, circuitChanged);
        }
    }

    public ResiliencePolicy Policy { get; }

    /// <summary>Whether the service has a bulkhead (<c>MaxConcurrentRequests</c>), queued or not.</summary>
    public bool HasBulkhead => Slots is not null || Bulkhead is not null;

    /// <summary>The bulkhead without a queue (<c>MaxQueuedRequests=0</c>, the default); null otherwise.</summary>
    public BulkheadSlots? Slots { get; }

    /// <summary>The bulkhead with a queue (<c>MaxQueuedRequests</c> above 0); null otherwise.</summary>
    public ConcurrencyLimiter? Bulkhead { get; }

    /// <summary>The rate limit (<c>RateLimit</c>); null when off.</summary>
    public TokenBucket? Rate { get; }

    /// <summary>The circuit breaker (<c>CircuitBreaker</c>); null when off.</summary>
    public CircuitBreaker? Breaker { get; }

    /// <summary>Calls in flight under the bulkhead (0 without one).</summary>
    public int InFlight => Slots is { } slots ? slots.InFlight
        : Bulkhead is { } bulkhead
        ? Policy.MaxConcurrentRequests - (int)(bulkhead.GetStatistics()?.CurrentAvailablePermits ?? Policy.MaxConcurrentRequests)
        : 0;

    /// <summary>Calls waiting for a slot of the bulkhead.</summary>
    public long Queued => Bulkhead?.GetStatistics()?.CurrentQueuedCount ?? 0;
}

/// <summary>
/// The bulkhead of a service without a queue (docs/resilience.md#bulkhead): a count of the calls in flight,
/// taken and given back with one compare-and-swap, no lock and no lease object (docs/resilience.md#cost).
/// A bulkhead with a queue is <c>ConcurrencyLimiter</c>'s (<see cref="ServiceAdmission.Bulkhead"/>).
/// </summary>
internal sealed class BulkheadSlots(int limit)
{
    private int _inFlight;

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Takes a slot; false when all <c>limit</c> are taken (the count never goes past it, even for a moment).</summary>
    public bool TryEnter()
    {
        var current = Volatile.Read(ref _inFlight);
        while (current < limit)
        {
            var seen = Interlocked.CompareExchange(ref _inFlight, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>Gives a slot taken by <see cref="TryEnter"/> back.</summary>
    public void Exit() => Interlocked.Decrement(ref _inFlight);
}

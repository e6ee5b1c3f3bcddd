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
        if (policy.MaxConcurrentRequests > 0)
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

    /// <summary>The bulkhead (<c>MaxConcurrentRequests</c>); null when off.</summary>
    public ConcurrencyLimiter? Bulkhead { get; }

    /// <summary>The rate limit (<c>RateLimit</c>); null when off.</summary>
    public TokenBucket? Rate { get; }

    /// <summary>The circuit breaker (<c>CircuitBreaker</c>); null when off.</summary>
    public CircuitBreaker? Breaker { get; }

    /// <summary>Calls in flight under the bulkhead (0 without one).</summary>
    public int InFlight => Bulkhead is { } bulkhead
        ? Policy.MaxConcurrentRequests - (int)(bulkhead.GetStatistics()?.CurrentAvailablePermits ?? Policy.MaxConcurrentRequests)
        : 0;

    /// <summary>Calls waiting for a slot of the bulkhead.</summary>
    public long Queued => Bulkhead?.GetStatistics()?.CurrentQueuedCount ?? 0;
}

using Sidecar.Configuration;

namespace Sidecar.Forwarding;

/// <summary>
/// The admission rules of one service (docs/resilience.md): a bulkhead (<see cref="MaxConcurrentRequests"/>),
/// a rate limit (<see cref="RateLimit"/>) and a circuit breaker (<see cref="CircuitBreaker"/>). Read like
/// every other forwarding setting, globally under <c>Forwarding:</c> and per service under
/// <c>Forwarding:Services:{name}:</c>; a global value gives each service a limiter of its own. All off by
/// default, so an agent that sets none of them behaves as before.
/// </summary>
internal sealed record ResiliencePolicy
{
    public static readonly ResiliencePolicy Off = new();

    /// <summary>Every key read here, for the unknown-key check.</summary>
    public static readonly IReadOnlyList<string> Keys =
    [
        nameof(MaxConcurrentRequests), nameof(MaxQueuedRequests), nameof(RateLimit), nameof(RateLimitBurst),
        nameof(CircuitBreaker), nameof(CircuitBreakerFailureRatio), nameof(CircuitBreakerMinimumThroughput),
        nameof(CircuitBreakerSamplingDuration), nameof(CircuitBreakerBreakDuration), nameof(Cache), nameof(HedgeAfter),
    ];

    /// <summary>Calls in flight to the service at once; 0 (the default) = no limit.</summary>
    public int MaxConcurrentRequests { get; init; }

    /// <summary>Calls that may wait for a slot when <see cref="MaxConcurrentRequests"/> are in flight. Default 0: refused at once.</summary>
    public int MaxQueuedRequests { get; init; }

    /// <summary>Calls per second this agent sends to the service (token bucket); 0 (the default) = no limit.</summary>
    public int RateLimit { get; init; }

    /// <summary>Calls the bucket holds (a burst after a quiet time); default = <see cref="RateLimit"/>.</summary>
    public int RateLimitBurst { get; init; }

    /// <summary>Whether the service has a circuit breaker. Default false.</summary>
    public bool CircuitBreaker { get; init; }

    /// <summary>Share of failed attempts in the sampling window that opens the circuit. Default 0.5.</summary>
    public double CircuitBreakerFailureRatio { get; init; } = 0.5;

    /// <summary>Attempts the window must hold before the ratio counts. Default 20.</summary>
    public int CircuitBreakerMinimumThroughput { get; init; } = 20;

    /// <summary>The window over which the ratio is computed. Default 10 s.</summary>
    public TimeSpan CircuitBreakerSamplingDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an open circuit refuses calls before one trial call goes through. Default 5 s.</summary>
    public TimeSpan CircuitBreakerBreakDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether the service's cacheable GET answers are kept in the response cache (<c>CacheMaxBytes</c>, global). Default false.</summary>
    public bool Cache { get; init; }

    /// <summary>How long the first attempt of an idempotent call may go without response headers before a second one goes to another instance (docs/resilience.md#hedging); null (the default) = no hedging.</summary>
    public TimeSpan? HedgeAfter { get; init; }

    /// <summary>True when no rule is on: calls go straight to the forwarder (no admission step at all).</summary>
    public bool IsOff => MaxConcurrentRequests == 0 && RateLimit == 0 && !CircuitBreaker && !Cache;

    /// <summary>True when a rule that admits calls (bulkhead, rate limit, breaker) is on.</summary>
    public bool Admits => MaxConcurrentRequests > 0 || RateLimit > 0 || CircuitBreaker;

    internal static ResiliencePolicy Read(SettingsReader r, string prefix, ResiliencePolicy defaults)
    {
        var rate = r.Int(prefix + nameof(RateLimit), defaults.RateLimit, 0, 1_000_000);
        var burstSet = r.String(prefix + nameof(RateLimitBurst)) is not null;
        var policy = new ResiliencePolicy
        {
            MaxConcurrentRequests = r.Int(prefix + nameof(MaxConcurrentRequests), defaults.MaxConcurrentRequests, 0, 1_000_000),
            MaxQueuedRequests = r.Int(prefix + nameof(MaxQueuedRequests), defaults.MaxQueuedRequests, 0, 1_000_000),
            RateLimit = rate,
            // A service that sets its own rate but no burst gets a burst of its rate, not the global burst.
            RateLimitBurst = r.Int(prefix + nameof(RateLimitBurst), rate != defaults.RateLimit || defaults.RateLimitBurst == 0 ? rate : defaults.RateLimitBurst, 1, 10_000_000),
            CircuitBreaker = r.Bool(prefix + nameof(CircuitBreaker), defaults.CircuitBreaker),
            Cache = r.Bool(prefix + nameof(Cache), defaults.Cache),
            CircuitBreakerFailureRatio = r.Ratio(prefix + nameof(CircuitBreakerFailureRatio), defaults.CircuitBreakerFailureRatio),
            CircuitBreakerMinimumThroughput = r.Int(prefix + nameof(CircuitBreakerMinimumThroughput), defaults.CircuitBreakerMinimumThroughput, 1, 1_000_000),
            CircuitBreakerSamplingDuration = r.Duration(prefix + nameof(CircuitBreakerSamplingDuration), defaults.CircuitBreakerSamplingDuration, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)),
            HedgeAfter = r.String(prefix + nameof(HedgeAfter)) is null
                ? defaults.HedgeAfter
                : r.Duration(prefix + nameof(HedgeAfter), TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1)),
            CircuitBreakerBreakDuration = r.Duration(prefix + nameof(CircuitBreakerBreakDuration), defaults.CircuitBreakerBreakDuration, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1)),
        };

        if (policy.MaxQueuedRequests > 0 && policy.MaxConcurrentRequests == 0)
        {
            r.AddError(prefix + nameof(MaxQueuedRequests), $"a queue needs a limit: set {prefix}{nameof(MaxConcurrentRequests)} too");
        }

        if (burstSet && policy.RateLimit == 0)
        {
            r.AddError(prefix + nameof(RateLimitBurst), $"a burst needs a rate: set {prefix}{nameof(RateLimit)} too");
        }

        return policy;
    }
}

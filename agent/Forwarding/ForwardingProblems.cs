namespace Sidecar.Forwarding;

/// <summary>The stable codes of the forwarder's own errors (the <c>X-Sidecar-Error</c> header and the problem <c>type</c> suffix).</summary>
internal static class ForwardingProblems
{
    /// <summary>400: a malformed request (missing <c>vip</c>, bad <c>X-Request-Timeout</c>, unreadable body, user info in a proxy target).</summary>
    public const string BadRequest = "bad-request";

    /// <summary>400: the path is not a safe origin-form path.</summary>
    public const string BadPath = "bad-path";

    /// <summary>404: no source knows the service (the agent is never an open proxy).</summary>
    public const string UnknownService = "unknown-service";

    /// <summary>405: CONNECT (tunnelling) is not offered.</summary>
    public const string TunnelNotSupported = "tunnel-not-supported";

    /// <summary>405: TRACE is not forwarded (it would echo cookies and credentials to the page that sent it).</summary>
    public const string MethodNotAllowed = "method-not-allowed";

    /// <summary>
    /// 421: on a loopback API, a Host that is neither the agent (an IP literal, <c>localhost</c>) nor a
    /// known service: what a browser page sends after pointing its own name at 127.0.0.1 (DNS rebinding).
    /// </summary>
    public const string UnknownHost = "unknown-host";

    /// <summary>403: a browser sent the request for another page than the agent's (<c>Sec-Fetch-Site: cross-site</c> or <c>same-site</c>, or a foreign <c>Origin</c>).</summary>
    public const string CrossSiteRequest = "cross-site-request";

    /// <summary>413: the body is larger than <c>MaxBodySize</c>.</summary>
    public const string BodyTooLarge = "body-too-large";

    /// <summary>508: the request already passed through this agent (its pseudonym is in <c>Via</c>): forwarding it again would loop.</summary>
    public const string LoopDetected = "loop-detected";

    /// <summary>502: every attempt failed to get an answer (connection refused or reset).</summary>
    public const string UpstreamUnreachable = "upstream-unreachable";

    /// <summary>502: the instance's answer cannot be passed on (a <c>101 Switching Protocols</c> to a request that asked for no upgrade).</summary>
    public const string BadUpstreamResponse = "bad-upstream-response";

    /// <summary>503: no instance is UP and not ejected.</summary>
    public const string NoInstance = "no-instance";

    /// <summary>503: the agent is stopping (SIGTERM) and opens no new upgraded connection (docs/forwarding.md#websocket-and-other-upgrades).</summary>
    public const string Draining = "draining";

    /// <summary>504: the total deadline passed.</summary>
    public const string DeadlineExceeded = "deadline-exceeded";

    /// <summary>504: every attempt hit the per-try time-out.</summary>
    public const string UpstreamTimeout = "upstream-timeout";

    /// <summary>503: the service's bulkhead is full (<c>MaxConcurrentRequests</c> in flight, <c>MaxQueuedRequests</c> waiting); nothing was sent.</summary>
    public const string ConcurrencyLimit = "concurrency-limit";

    /// <summary>429: the service's rate limit (<c>RateLimit</c>) is spent for now; nothing was sent.</summary>
    public const string RateLimited = "rate-limited";

    /// <summary>503: the service's circuit breaker is open; nothing was sent.</summary>
    public const string CircuitOpen = "circuit-open";
}

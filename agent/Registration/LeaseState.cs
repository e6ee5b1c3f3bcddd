using Sidecar.Eureka;
using Sidecar.Health;

namespace Sidecar.Registration;

/// <summary>
/// Everything the lease's rules remember between two decisions (docs/eureka.md#lifecycle), and what the
/// rest of the agent reads of the lease (readiness, the last heartbeat, the status Eureka accepted).
/// Immutable: the loop holds the latest one, <see cref="LeaseDecider"/> gives the next.
/// </summary>
internal sealed record LeaseState
{
    /// <summary>What Eureka holds for this instance, as far as the agent knows; null while the lease is not known to exist.</summary>
    public LeaseStatus? Reported { get; init; }

    /// <summary>The <c>lastDirtyTimestamp</c> of the last change Eureka accepted (renewals send it).</summary>
    public long LastDirtyTimestamp { get; init; }

    public DateTimeOffset NextRenew { get; init; }

    /// <summary>When a failed call may be tried again (a registration, or a status change).</summary>
    public DateTimeOffset RetryAt { get; init; }

    /// <summary>The wait after the next failure: 1 s, doubling up to the renew interval, back to 1 s after a registration.</summary>
    public TimeSpan RetryDelay { get; init; } = LeaseDecider.FirstRetryDelay;

    /// <summary>The instance was read back after this process's first registration (or that was given up).</summary>
    public bool ReadBackDone { get; init; }

    public int ReadBackFailures { get; init; }

    /// <summary>When the next read-back attempt may go (after a failed one).</summary>
    public DateTimeOffset ReadBackAt { get; init; }

    /// <summary>Why the last call failed on every server, for the drain's log line; null after a success.</summary>
    public string? LastFailure { get; init; }

    /// <summary>The status change waiting for a token, once said (so it is said once).</summary>
    public InstanceStatus? HeldStatus { get; init; }

    /// <summary>Since when Eureka holds an OUT_OF_SERVICE of the app's own: a drain counts from then.</summary>
    public DateTimeOffset? OutOfServiceSince { get; init; }

    public required StatusUpdateRateLimiter Tokens { get; init; }

    /// <summary>Eureka accepted this instance once; stays true while Eureka is down.</summary>
    public bool EverRegistered { get; init; }

    /// <summary>
    /// A registration went out and its answer has not come back: a stop that cut the call short may leave
    /// Eureka holding the lease, so the stop cancels it (a 404 then says nothing was there).
    /// </summary>
    public bool RegistrationUnanswered { get; init; }

    /// <summary>Set at SIGTERM.</summary>
    public LeaseStop? Stop { get; init; }

    /// <summary>The cancel was sent (or is on its way): it is not sent twice.</summary>
    public bool Cancelled { get; init; }

    /// <summary>The cancel was answered (or failed): the lease is gone, or left for Eureka to expire.</summary>
    public bool Deregistered { get; init; }

    public required ReadinessResult Readiness { get; init; }

    /// <summary>When Eureka last accepted a registration, a renewal or a status change; null before the first.</summary>
    public DateTimeOffset? LastHeartbeat { get; init; }

    /// <summary>The status Eureka last accepted; null before the first and after the cancel.</summary>
    public InstanceStatus? Accepted { get; init; }
}

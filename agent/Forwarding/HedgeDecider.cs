namespace Sidecar.Forwarding;

/// <summary>Hedge or not, and why (<see cref="HedgeDecider.Decide"/>).</summary>
internal enum HedgeWhy
{
    /// <summary>A second attempt goes to another instance.</summary>
    Hedge,

    /// <summary><c>HedgeAfter</c> is not set for the service.</summary>
    Off,

    /// <summary>Not an idempotent method and no <c>Idempotency-Key</c>: the request is sent once.</summary>
    NotIdempotent,

    /// <summary>The body is larger than <c>RetryBufferSize</c> (streamed): it can be sent once only.</summary>
    BodyStreamed,

    /// <summary>The caller left or the deadline fired.</summary>
    CallEnded,

    /// <summary>Every available instance was tried already by this call.</summary>
    NoOtherInstance,

    /// <summary>The rules allowed it but the service's retry budget is spent.</summary>
    BudgetExhausted,
}

/// <summary>The facts the hedging rules read when the first attempt has had no answer for <c>HedgeAfter</c>.</summary>
/// <param name="Configured">The service has a <c>HedgeAfter</c>.</param>
/// <param name="Idempotent">The method is idempotent or the request has an <c>Idempotency-Key</c> (<see cref="RetryDecider.IsIdempotent"/>).</param>
/// <param name="Body">Where the request body stands (<see cref="RequestBody.State"/>).</param>
/// <param name="CallEnded">The caller left or the deadline fired.</param>
/// <param name="OtherInstance">An available instance this call has not tried yet.</param>
internal readonly record struct HedgeFacts(bool Configured, bool Idempotent, BodyState Body, bool CallEnded, bool OtherInstance);

/// <summary>
/// The hedging rules (docs/resilience.md#hedging), with no I/O: a hedge only for a request that may be
/// repeated (the same test as a retry's, <see cref="RetryDecider.IsIdempotent"/>), with no body or a body
/// buffered within <c>RetryBufferSize</c>, while the call goes on and an instance not tried yet is
/// available; and, asked last (<see cref="Settle"/>), only while the retry budget lasts.
/// </summary>
internal static class HedgeDecider
{
    public static HedgeWhy Decide(in HedgeFacts facts) =>
        !facts.Configured ? HedgeWhy.Off
        : !facts.Idempotent ? HedgeWhy.NotIdempotent
        : facts.Body != BodyState.Replayable ? HedgeWhy.BodyStreamed
        : facts.CallEnded ? HedgeWhy.CallEnded
        : !facts.OtherInstance ? HedgeWhy.NoOtherInstance
        : HedgeWhy.Hedge;

    /// <summary>Whether a call may be hedged at all, asked once before its first attempt (the instance is known only later).</summary>
    public static bool MayHedge(bool configured, bool idempotent, BodyState body) =>
        Decide(new HedgeFacts(configured, idempotent, body, CallEnded: false, OtherInstance: true)) == HedgeWhy.Hedge;

    /// <summary>The decision once the budget was asked: a hedge it could not pay becomes <see cref="HedgeWhy.BudgetExhausted"/>.</summary>
    public static HedgeWhy Settle(HedgeWhy why, bool budgetPaid) =>
        why == HedgeWhy.Hedge && !budgetPaid ? HedgeWhy.BudgetExhausted : why;
}

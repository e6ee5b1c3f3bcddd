using System.Net.Http.Headers;
using Polly.Timeout;
using Sidecar.Observability;

namespace Sidecar.Forwarding;

/// <summary>What an attempt ended with, as the retry rules see it (<see cref="RetryDecider.Classify"/>).</summary>
internal enum AttemptResult
{
    /// <summary>The instance answered (the status is in <see cref="RetryFacts.Status"/>).</summary>
    Response,

    /// <summary>The request provably never reached the instance: connect error or connect time-out.</summary>
    NeverLeft,

    /// <summary>The per-try time-out fired before the response headers.</summary>
    TryTimeout,

    /// <summary>The connection broke after the request may have been sent.</summary>
    TransportError,

    /// <summary>No instance was left to try.</summary>
    NoInstance,

    /// <summary>The instance answered <c>101 Switching Protocols</c> to a request that asked for no upgrade.</summary>
    UnexpectedUpgrade,

    /// <summary>Any other exception: no rule covers it.</summary>
    OtherError,
}

/// <summary>Where the request body stands after an attempt (<see cref="RequestBody.State"/>).</summary>
internal enum BodyState
{
    /// <summary>No body, or a buffered one: it can be sent again.</summary>
    Replayable,

    /// <summary>A streamed body of which no byte was read: it can still go to another instance.</summary>
    StreamUnread,

    /// <summary>A streamed body that was (partly) sent: it cannot be sent again.</summary>
    StreamSent,

    /// <summary>The caller's body passed <c>MaxBodySize</c> while streaming: the caller's doing.</summary>
    TooLarge,

    /// <summary>The caller's body could not be read: the caller's doing.</summary>
    CallerFailed,
}

/// <summary>Why the decider said what it said.</summary>
internal enum RetryWhy
{
    /// <summary>A rule allows the retry (<see cref="RetryDecision.Reason"/> says which one).</summary>
    Retryable,

    /// <summary>No retries are configured, or all were made.</summary>
    AttemptsSpent,

    /// <summary>The caller left or the deadline fired: nobody waits for another attempt.</summary>
    CallEnded,

    /// <summary>No instance is left to try.</summary>
    NoInstance,

    /// <summary>A <c>101</c> nobody asked for: the instance's answer, not retried (a <c>502</c>).</summary>
    UnexpectedUpgrade,

    /// <summary>The caller's body was too large or could not be read: never retried, never the instance's failure.</summary>
    CallerBody,

    /// <summary>Part of a streamed body went to the instance: it cannot be sent again.</summary>
    BodySent,

    /// <summary>The instance may have acted on the request: only idempotent methods or an <c>Idempotency-Key</c> are sent again.</summary>
    NotIdempotent,

    /// <summary>An exception no retry rule covers.</summary>
    NotRetryableError,

    /// <summary>An answer that is passed back as it is: a success, any <c>4xx</c>, <c>500</c>, <c>501</c>...</summary>
    NotRetryableStatus,

    /// <summary>A <c>503</c>'s <c>Retry-After</c> points past the deadline: the caller gets that <c>503</c> at once.</summary>
    RetryAfterPastDeadline,

    /// <summary>The rules allowed it but the service's retry budget is spent.</summary>
    BudgetExhausted,
}

/// <summary>The facts about one finished attempt that the retry rules read; no I/O behind any of them.</summary>
/// <param name="Result">How the attempt ended.</param>
/// <param name="Status">The instance's status code when <paramref name="Result"/> is <see cref="AttemptResult.Response"/>.</param>
/// <param name="Body">Where the request body stands.</param>
/// <param name="Idempotent">The method is idempotent or the request has an <c>Idempotency-Key</c> (<see cref="RetryDecider.IsIdempotent"/>).</param>
/// <param name="AttemptNumber">The attempt that ended, from 0 (the first).</param>
/// <param name="MaxRetries">The policy's <c>Retries</c>.</param>
/// <param name="CallEnded">The caller left or the deadline fired.</param>
/// <param name="RetryAfter">A <c>503</c>'s <c>Retry-After</c> as a delay from now (<see cref="RetryDecider.RetryAfter"/>), or none.</param>
/// <param name="DeadlineLeft">What is left of the call's deadline.</param>
internal readonly record struct RetryFacts(
    AttemptResult Result,
    int Status,
    BodyState Body,
    bool Idempotent,
    int AttemptNumber,
    int MaxRetries,
    bool CallEnded,
    TimeSpan? RetryAfter,
    TimeSpan DeadlineLeft);

/// <summary>Retry or not, why, the metric reason of a retry and the wait a <c>Retry-After</c> asked for.</summary>
internal readonly record struct RetryDecision(bool Retry, RetryWhy Why, RetryReason Reason = default, TimeSpan? Delay = null)
{
    public static RetryDecision No(RetryWhy why) => new(false, why);

    public static RetryDecision Yes(RetryReason reason, TimeSpan? delay = null) => new(true, RetryWhy.Retryable, reason, delay);
}

/// <summary>
/// The retry rules of a forwarded call (docs/forwarding.md#deadlines-retries-ejection), with no I/O: the facts
/// of an attempt in, retry or not (and why) out. The single place both the first attempt, which runs
/// without Polly (<see cref="ForwardCall"/>'s fast path), and the Polly retry strategy
/// (<see cref="ForwardingPipelines"/>) ask, through <see cref="CallRetries"/>, so the two cannot diverge:
/// <list type="bullet">
/// <item>any method, when the request never left (connect error, connect time-out);</item>
/// <item><c>502</c>, <c>503</c>, <c>504</c>, a per-try time-out, a connection lost after sending: only idempotent
/// methods or a request with an <c>Idempotency-Key</c>;</item>
/// <item>never a <c>4xx</c>, <c>500</c> or <c>501</c>; never a body already streamed to an instance; never
/// what the caller's own body caused; never after the caller left or the deadline fired, nor for a
/// <c>Retry-After</c> past the deadline; never beyond <c>Retries</c>;</item>
/// <item>and, asked last (<see cref="Settle"/>), only while the retry budget lasts.</item>
/// </list>
/// </summary>
internal static class RetryDecider
{
    /// <summary>The methods a retry may repeat, or any request whose sender marked it with an <c>Idempotency-Key</c>.</summary>
    public static bool IsIdempotent(string method, bool hasIdempotencyKey) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) ||
        HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) || hasIdempotencyKey;

    /// <summary>How an attempt that threw ended, as the rules see it.</summary>
    public static AttemptResult Classify(Exception exception) => exception switch
    {
        NoInstanceException => AttemptResult.NoInstance,
        UnexpectedUpgradeException => AttemptResult.UnexpectedUpgrade,
        _ when ForwardingErrors.NeverLeft(exception) => AttemptResult.NeverLeft,
        TimeoutRejectedException => AttemptResult.TryTimeout,
        HttpRequestException or IOException => AttemptResult.TransportError,
        _ => AttemptResult.OtherError,
    };

    /// <summary>
    /// A <c>Retry-After</c> (seconds, or an HTTP date) as a delay from <paramref name="now"/>, never negative;
    /// null when there is none.
    /// </summary>
    public static TimeSpan? RetryAfter(RetryConditionHeaderValue? header, DateTimeOffset now)
    {
        if (header?.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (header?.Date is { } date)
        {
            var delay = date - now;
            return delay < TimeSpan.Zero ? TimeSpan.Zero : delay;
        }

        return null;
    }

    /// <summary>
    /// Whether the rules allow another attempt. A yes still has to be paid from the retry budget
    /// (<see cref="Settle"/>): the budget is asked only when every other rule says yes.
    /// </summary>
    public static RetryDecision Decide(in RetryFacts facts)
    {
        if (facts.AttemptNumber >= facts.MaxRetries)
        {
            return RetryDecision.No(RetryWhy.AttemptsSpent);
        }

        if (facts.CallEnded)
        {
            return RetryDecision.No(RetryWhy.CallEnded);
        }

        return facts.Result == AttemptResult.Response ? DecideAnswer(facts) : DecideFailure(facts);
    }

    /// <summary>The decision once the budget was asked: a yes it could not pay becomes <see cref="RetryWhy.BudgetExhausted"/>.</summary>
    public static RetryDecision Settle(RetryDecision decision, bool budgetPaid) =>
        !decision.Retry || budgetPaid ? decision : decision with { Retry = false, Why = RetryWhy.BudgetExhausted, Delay = null };

    private static bool CanReplay(BodyState body) => body is BodyState.Replayable or BodyState.StreamUnread;

    private static RetryDecision DecideFailure(in RetryFacts facts)
    {
        switch (facts.Result)
        {
            case AttemptResult.NoInstance:
                return RetryDecision.No(RetryWhy.NoInstance);
            case AttemptResult.UnexpectedUpgrade:
                return RetryDecision.No(RetryWhy.UnexpectedUpgrade);
        }

        // What the caller's body did says nothing about the instance: nothing to retry elsewhere.
        if (facts.Body is BodyState.TooLarge or BodyState.CallerFailed)
        {
            return RetryDecision.No(RetryWhy.CallerBody);
        }

        switch (facts.Result)
        {
            case AttemptResult.NeverLeft:
                // Safe whatever the method: the instance never saw the request.
                return CanReplay(facts.Body) ? RetryDecision.Yes(RetryReason.ConnectError) : RetryDecision.No(RetryWhy.BodySent);
            case AttemptResult.TryTimeout:
                return IfRepeatable(facts, RetryReason.TryTimeout);
            case AttemptResult.TransportError:
                return IfRepeatable(facts, RetryReason.TransportError);
            default:
                return RetryDecision.No(RetryWhy.NotRetryableError);
        }
    }

    private static RetryDecision DecideAnswer(in RetryFacts facts)
    {
        switch (facts.Status)
        {
            case 502:
                return IfRepeatable(facts, RetryReason.Status502);
            case 504:
                return IfRepeatable(facts, RetryReason.Status504);
            case 503:
                var decision = IfRepeatable(facts, RetryReason.Status503);
                if (!decision.Retry || facts.RetryAfter is not { } delay)
                {
                    return decision;
                }

                // Waiting past the deadline is pointless: the caller gets the 503 and its Retry-After.
                return delay >= facts.DeadlineLeft ? RetryDecision.No(RetryWhy.RetryAfterPastDeadline) : decision with { Delay = delay };
            default:
                return RetryDecision.No(RetryWhy.NotRetryableStatus);
        }
    }

    // The instance may have acted on the request: only a request that may be repeated, with a body that can be sent again.
    private static RetryDecision IfRepeatable(in RetryFacts facts, RetryReason reason) =>
        !facts.Idempotent ? RetryDecision.No(RetryWhy.NotIdempotent)
        : !CanReplay(facts.Body) ? RetryDecision.No(RetryWhy.BodySent)
        : RetryDecision.Yes(reason);
}

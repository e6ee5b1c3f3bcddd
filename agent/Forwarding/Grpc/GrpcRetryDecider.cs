using Sidecar.Observability;

namespace Sidecar.Forwarding.Grpc;

/// <summary>What is known when a gRPC attempt ends (docs/grpc.md#retries).</summary>
/// <param name="NeverLeft">The attempt failed before the instance got anything (connection refused, connect time-out).</param>
/// <param name="BodyStarted">Some of the caller's body was read and sent already.</param>
/// <param name="BodyReplayable">The caller's whole body was read and kept (it fit in <c>RetryBufferSize</c>).</param>
/// <param name="Status">The <c>grpc-status</c> of an answer with no message (trailers-only); null for a failure with no answer.</param>
/// <param name="StatusRetryable"><see cref="Status"/> is one <c>GrpcRetryOn</c> names.</param>
/// <param name="Attempt">The attempt that ended, from 1.</param>
/// <param name="Retries">The service's <c>Retries</c>.</param>
/// <param name="CallOver">The caller left or the deadline fired.</param>
internal readonly record struct GrpcRetryFacts(bool NeverLeft, bool BodyStarted, bool BodyReplayable, int? Status, bool StatusRetryable, int Attempt, int Retries, bool CallOver);

/// <summary>
/// When a gRPC call is sent again, with no I/O: only what is safe. A request that never reached an
/// instance goes to another (its body was not read yet, or was kept whole); an answer whose status the
/// configuration marks retryable (<c>GrpcRetryOn</c>) is sent again only when it carried no message
/// (nothing was passed on to the caller) and the caller's whole body was kept. Never a call the caller
/// left or whose deadline passed; never more than <c>Retries</c>. The retry budget is paid last, by the caller.
/// </summary>
internal static class GrpcRetryDecider
{
    /// <summary>The reason to retry, or null for no retry.</summary>
    public static RetryReason? Decide(GrpcRetryFacts facts)
    {
        if (facts.CallOver || facts.Attempt > facts.Retries)
        {
            return null;
        }

        if (facts.Status is null)
        {
            return facts.NeverLeft && (!facts.BodyStarted || facts.BodyReplayable) ? RetryReason.ConnectError : null;
        }

        return facts.StatusRetryable && facts.BodyReplayable ? RetryReason.GrpcStatus : null;
    }
}

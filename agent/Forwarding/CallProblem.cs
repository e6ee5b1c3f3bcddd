using Polly.Timeout;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// An answer of the agent's own to a forwarded call (docs/http-api.md: problem details with a stable
/// code, docs/forwarding.md for when each is given): chosen here with no I/O, written by
/// <see cref="ForwardCall"/>. Details name the service and what happened, never a stack trace.
/// </summary>
internal readonly record struct CallProblem(int Status, string Code, string Title, string Detail)
{
    public static CallProblem BadHeader(string name, char character) =>
        new(StatusCodes.Status400BadRequest, ForwardingProblems.BadRequest, "Bad request",
            $"The value of header '{LogText.Printable(name)}' holds the control character 0x{(int)character:x2}; only HTAB is allowed.");

    public static CallProblem BadRequestBecause(string detail) =>
        new(StatusCodes.Status400BadRequest, ForwardingProblems.BadRequest, "Bad request", detail);

    public static CallProblem NoInstance(string service) =>
        new(StatusCodes.Status503ServiceUnavailable, ForwardingProblems.NoInstance, "No available instance",
            $"No instance of '{service}' is UP and in rotation.");

    public static CallProblem TooLarge(string service, ServicePolicy policy) =>
        new(StatusCodes.Status413PayloadTooLarge, ForwardingProblems.BodyTooLarge, "Request body too large",
            $"Calls to '{service}' accept bodies up to {policy.MaxBodySize} bytes ({policy.MaxBodySizeKey}).");

    public static CallProblem DeadlineExceeded(string service, TimeSpan deadline, int attempts) =>
        new(StatusCodes.Status504GatewayTimeout, ForwardingProblems.DeadlineExceeded, "Deadline exceeded",
            $"The call to '{service}' did not complete within its deadline of {DurationParser.Format(deadline)} ({attempts} attempt(s)).");

    /// <summary>
    /// The answer when the last attempt failed without a response to pass back: nothing to try, the
    /// caller's body, a <c>101</c> nobody asked for, the per-try time-out, or an instance out of reach.
    /// </summary>
    public static CallProblem Failure(Exception exception, RequestBody body, string service, ServicePolicy policy, int attempts)
    {
        if (exception is NoInstanceException)
        {
            return NoInstance(service);
        }

        if (body.TooLarge)
        {
            return TooLarge(service, policy);
        }

        if (body.CallerFailed)
        {
            return new(StatusCodes.Status400BadRequest, ForwardingProblems.BadRequest, "Bad request",
                "The request body could not be read from the caller.");
        }

        if (exception is UnexpectedUpgradeException)
        {
            return new(StatusCodes.Status502BadGateway, ForwardingProblems.BadUpstreamResponse, "Bad upstream response",
                $"'{service}' answered 101 Switching Protocols to a request that asked for no upgrade.");
        }

        if (exception is TimeoutRejectedException)
        {
            return new(StatusCodes.Status504GatewayTimeout, ForwardingProblems.UpstreamTimeout, "Upstream time-out",
                $"'{service}' did not answer within the per-try time-out of {DurationParser.Format(policy.TryTimeout)} ({attempts} attempt(s)).");
        }

        return new(StatusCodes.Status502BadGateway, ForwardingProblems.UpstreamUnreachable, "Upstream unreachable",
            $"'{service}' could not be reached ({attempts} attempt(s)): {ForwardingErrors.Describe(exception)}");
    }
}

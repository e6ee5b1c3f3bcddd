using Sidecar.Platform;

namespace Sidecar.Forwarding.Grpc;

/// <summary>
/// How the agent answers a request of the gRPC listener itself (docs/grpc.md#the-agents-own-errors): to a
/// gRPC caller (<c>content-type: application/grpc*</c>) a trailers-only response, HTTP 200,
/// <c>content-type: application/grpc</c>, <c>grpc-status</c> and <c>grpc-message</c> (<see cref="GrpcStatus.ForProblem"/>),
/// no body; once the response has started, the same two as trailers. Any other HTTP/2 caller gets the
/// problem+json of the HTTP API.
/// </summary>
internal static class GrpcAnswers
{
    public static Task WriteAsync(HttpContext context, bool isGrpc, CallProblem problem)
    {
        if (!isGrpc)
        {
            return Problems.WriteAsync(context, problem.Status, problem.Code, problem.Title, problem.Detail);
        }

        End(context, GrpcStatus.ForProblem(problem.Code), problem.Detail, problem.Code);
        return Task.CompletedTask;
    }

    /// <summary>Ends the call with <paramref name="status"/>: in the headers when nothing was sent yet (Kestrel then sends them with END_STREAM), else in the trailers.</summary>
    public static void End(HttpContext context, int status, string message, string? code = null)
    {
        var response = context.Response;
        var text = GrpcStatus.EncodeMessage(message);
        var value = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (!response.HasStarted)
        {
            response.Clear();
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/grpc";
            response.Headers["grpc-status"] = value;
            response.Headers["grpc-message"] = text;
            if (code is not null)
            {
                response.Headers[Problems.ErrorHeader] = code;
            }

            return;
        }

        if (response.SupportsTrailers())
        {
            response.AppendTrailer("grpc-status", value);
            response.AppendTrailer("grpc-message", text);
        }
        else
        {
            context.Abort();
        }
    }
}

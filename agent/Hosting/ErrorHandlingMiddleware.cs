using Sidecar.Forwarding.Grpc;
using Sidecar.Platform;
namespace Sidecar.Hosting;

/// <summary>
/// The last line of defence: an exception that escapes a handler is logged with its stack trace
/// and answered with a plain 500 problem (a gRPC call: the status INTERNAL), never with the trace (docs/http-api.md#problems).
/// </summary>
internal sealed partial class ErrorHandlingMiddleware(RequestDelegate next, ILogger<ErrorHandlingMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // by design: nothing may escape as a stack trace or a dropped connection
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await AnswerAsync(context, ex, logger).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The answer to an exception that escaped a handler. The agent's pipeline calls it from the request's one outer
    /// frame (<see cref="RequestLoggingMiddleware"/>), which also writes the request's line: one async frame per request
    /// rather than two (docs/performance.md#what-was-tuned).
    /// </summary>
    public static Task AnswerAsync(HttpContext context, Exception exception, ILogger<ErrorHandlingMiddleware> logger)
    {
        switch (exception)
        {
            case OperationCanceledException when context.RequestAborted.IsCancellationRequested:
                return Task.CompletedTask; // the client went away: nobody is left to answer
            case BadHttpRequestException bad:
                return Problems.WriteAsync(context, bad.StatusCode, "bad-request", "Bad request", bad.Message);
            case IOException io when HasBody(context):
                // Kestrel reports some broken request bodies as a plain IOException (a chunk size that overflows:
                // "Bad chunk size data." around an OverflowException): the client's bytes, so the client's 400.
                LogBadBody(logger, context.Request.Method, context.Request.Path.Value ?? "/", io.Message);
                return Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "bad-request", "Bad request",
                    "The request body could not be read: " + io.Message);
        }

        LogUnhandled(logger, context.Request.Method, context.Request.Path.Value ?? "/", exception);
        if (GrpcStatus.IsGrpc(context.Request.ContentType))
        {
            // A gRPC client reads statuses, not bodies (docs/grpc.md#the-agents-own-errors): INTERNAL, as gRPC maps a 500.
            GrpcAnswers.End(context, GrpcStatus.Internal, "The agent failed to handle this call; its log has the details.", "internal-error");
            return Task.CompletedTask;
        }

        return Problems.WriteAsync(context, StatusCodes.Status500InternalServerError, Problems.InternalCode, Problems.InternalTitle, Problems.InternalDetail);
    }

    // Handlers read nothing but the request body that could throw an IOException at them.
    private static bool HasBody(HttpContext context) =>
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true;

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Unreadable request body on {Method} {Path}: {Error}")]
    private static partial void LogBadBody(ILogger logger, string method, string path, string error);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Unhandled error on {Method} {Path}")]
    internal static partial void LogUnhandled(ILogger logger, string method, string path, Exception exception);
}

namespace Sidecar.Hosting;

/// <summary>
/// The last line of defence: an exception that escapes a handler is logged with its stack trace
/// and answered with a plain 500 problem, never with the trace (SPEC section 3).
/// </summary>
internal sealed partial class ErrorHandlingMiddleware(RequestDelegate next, ILogger<ErrorHandlingMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody is left to answer.
        }
        catch (BadHttpRequestException ex)
        {
            await Problems.WriteAsync(context, ex.StatusCode, "bad-request", "Bad request", ex.Message).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // by design: nothing may escape as a stack trace or a dropped connection
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogUnhandled(logger, context.Request.Method, context.Request.Path.Value ?? "/", ex);
            await Problems.WriteAsync(context, StatusCodes.Status500InternalServerError, "internal-error",
                "The agent failed to handle this request", "The agent's log has the details.").ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Unhandled error on {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, string method, string path, Exception exception);
}

using System.Diagnostics;
using Sidecar.Configuration;

namespace Sidecar.Hosting;

/// <summary>
/// One log line per request: method, path (never the query, which may carry secrets), status, time.
/// Which requests get one is <c>Sidecar:RequestLog</c>: all (the default), errors (the agent's own
/// problems, 5xx and callers that left) or none. A request that will not be logged pays nothing here.
/// </summary>
internal sealed partial class RequestLoggingMiddleware(RequestDelegate next, SidecarOptions options, ILogger<RequestLoggingMiddleware> logger)
{
    private readonly RequestLogMode _mode = options.RequestLog;

    public Task InvokeAsync(HttpContext context) =>
        _mode == RequestLogMode.None || !logger.IsEnabled(LogLevel.Information) ? next(context) : LogAsync(context);

    private async Task LogAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            var status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
            if (_mode == RequestLogMode.All || IsError(context, status))
            {
                // The path is decoded: "%0a" would start a forged line in a text log.
                LogRequest(logger, context.Request.Method, LogText.Printable(context.Request.Path.Value ?? "/"), status, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }
    }

    // The agent's own problems carry X-Sidecar-Error (a 404 for an unknown service is one); an
    // upstream's 4xx is the app's business and is not.
    private static bool IsError(HttpContext context, int status) =>
        status >= 500 || status == 499 || context.Response.Headers.ContainsKey(Problems.ErrorHeader);

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Method} {Path} {StatusCode} {ElapsedMs:0.0} ms")]
    private static partial void LogRequest(ILogger logger, string method, string path, int statusCode, double elapsedMs);
}

using System.Diagnostics;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Hosting;

/// <summary>
/// One log line per request: method, path (never the query, which may carry secrets), status, time, and
/// for a forwarded call the destination service and the attempts made. Which requests get one is
/// <c>Sidecar:RequestLog</c>: all, errors (the default: the agent's own problems, 5xx and callers that
/// left) or none. Probes (GET or HEAD of the health routes, <c>/ping</c>, <c>/status</c> and <c>/metrics</c>:
/// the kubelet, Eureka and Prometheus ask every few seconds; and a capability's, <see cref="PublicRoutes.IsProbe"/>)
/// get none unless <c>SIDECAR_LOG_PROBES</c> is true.
/// A logged request carries a <see cref="RequestLogScope"/> (trace ids on every line written meanwhile);
/// a request that will not be logged pays nothing here.
/// </summary>
/// <remarks>
/// It is also the request's last-resort error answer (<see cref="ErrorHandlingMiddleware.AnswerAsync"/>, under that
/// class's log category): one async frame around every request instead of two (docs/performance.md#what-was-tuned).
/// </remarks>
internal sealed partial class RequestLoggingMiddleware(RequestDelegate next, SidecarOptions options, ILogger<RequestLoggingMiddleware> logger, PublicRoutes routes,
    ILogger<ErrorHandlingMiddleware> errors)
{
    private static readonly HashSet<string> ProbePaths = new(ListenerExtensions.PublicHealthRoutes, StringComparer.OrdinalIgnoreCase) { "/metrics" };

    private readonly RequestLogMode _mode = options.RequestLog;
    private readonly bool _logProbes = options.LogProbes;

    // A request without a line gets the error answer alone.
    private readonly ErrorHandlingMiddleware _unlogged = new(next, errors);

    public Task InvokeAsync(HttpContext context) =>
        _mode == RequestLogMode.None || !logger.IsEnabled(LogLevel.Information) || (!_logProbes && IsProbe(context.Request, routes))
            ? _unlogged.InvokeAsync(context)
            : LogAsync(context);

    private async Task LogAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var scope = RequestLogScope.Begin(context);
        try
        {
            await next(context).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // by design: nothing may escape as a stack trace or a dropped connection
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await ErrorHandlingMiddleware.AnswerAsync(context, ex, errors).ConfigureAwait(false);
        }
        finally
        {
            var status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
            if (_mode == RequestLogMode.All || IsError(context, status))
            {
                // The path is decoded: "%0a" would start a forged line in a text log.
                var path = LogText.Printable(context.Request.Path.Value ?? "/");
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (scope.Service is { } service)
                {
                    LogForwarded(logger, context.Request.Method, path, status, elapsed, service, scope.Attempts);
                }
                else
                {
                    LogRequest(logger, context.Request.Method, path, status, elapsed);
                }
            }
        }
    }

    // The agent's own problems carry X-Sidecar-Error (a 404 for an unknown service is one); an
    // upstream's 4xx is the app's business and is not.
    private static bool IsError(HttpContext context, int status) =>
        status >= 500 || status == 499 || context.Response.Headers.ContainsKey(Problems.ErrorHeader);

    private static bool IsProbe(HttpRequest request, PublicRoutes routes)
    {
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            return false;
        }

        var path = request.Path.Value ?? "";
        return ProbePaths.Contains(path) || (path.Length > 1 && path[^1] == '/' && ProbePaths.Contains(path[..^1])) || routes.IsProbe(path);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Method} {Path} {StatusCode} {ElapsedMs:0.0} ms")]
    private static partial void LogRequest(ILogger logger, string method, string path, int statusCode, double elapsedMs);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "{Method} {Path} {StatusCode} {ElapsedMs:0.0} ms -> {Service}, {Attempts} attempt(s)")]
    internal static partial void LogForwarded(ILogger logger, string method, string path, int statusCode, double elapsedMs, string service, int attempts);
}

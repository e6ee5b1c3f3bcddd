using Sidecar.Configuration;
using Sidecar.Forwarding.Http1;

namespace Sidecar.Hosting;

/// <summary>
/// The request log of the calls the forwarding core answers (docs/performance.md#the-forwarding-core): the scope and
/// the line <see cref="RequestLoggingMiddleware"/> gives a request Kestrel's pipeline runs, in the same mode and under
/// the same category, and the last-resort handler's line for an exception (<see cref="ErrorHandlingMiddleware"/>).
/// </summary>
internal sealed class CoreRequestLog(SidecarOptions options, ILogger<RequestLoggingMiddleware> logger, ILogger<ErrorHandlingMiddleware> errors) : ICoreRequestLog
{
    public bool Scoped => options.RequestLog != RequestLogMode.None && logger.IsEnabled(LogLevel.Information);

    public void Answered(string method, ReadOnlySpan<char> path, int status, double elapsedMs, string service, int attempts, bool agentsProblem)
    {
        // As RequestLoggingMiddleware: every call with "all"; with "errors" a 5xx, a caller gone, or an answer with X-Sidecar-Error.
        if (options.RequestLog == RequestLogMode.All || status >= 500 || status == 499 || agentsProblem)
        {
            RequestLoggingMiddleware.LogForwarded(logger, method, path.ToString(), status, elapsedMs, service, attempts);
        }
    }

    public void Unhandled(string method, string path, Exception exception) => ErrorHandlingMiddleware.LogUnhandled(errors, method, path, exception);
}

namespace Sidecar.Forwarding;

/// <summary>
/// The forwarder's log lines (event ids 500-599). None is written on the success path: a call that
/// works leaves only the request line of <c>RequestLoggingMiddleware</c>.
/// </summary>
internal sealed partial class ForwardingLog(ILogger<ForwardingLog> logger)
{
    public void Ready(int routes, string names)
    {
        if (routes > 0)
        {
            LogRoutes(logger, routes, names);
        }
    }

    public void Ejected(string service, string instance, TimeSpan duration, int failures, int ejections) =>
        LogEjected(logger, service, instance, duration.TotalSeconds, failures, ejections);

    public void EjectionRefused(string service, string instance, int ejected, int total)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            LogEjectionRefused(logger, service, instance, ejected, total);
        }
    }

    public void BudgetExhausted(string service)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            LogBudgetExhausted(logger, service);
        }
    }

    public void CallFailed(string service, int status, string code, int attempts, string detail)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            LogCallFailed(logger, service, status, code, attempts, detail);
        }
    }

    public void ResponseAborted(string service, string reason)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            LogResponseAborted(logger, service, reason);
        }
    }

    public void Rejected(string service, int status, string code)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            LogRejected(logger, service, status, code);
        }
    }

    [LoggerMessage(EventId = 506, Level = LogLevel.Debug, Message = "Call to {Service} refused before sending: {Status} {Code}")]
    private static partial void LogRejected(ILogger logger, string service, int status, string code);

    public void UpgradeClosed(string service, TimeSpan duration, string reason)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            LogUpgradeClosed(logger, service, duration.TotalSeconds, reason);
        }
    }

    [LoggerMessage(EventId = 507, Level = LogLevel.Debug, Message = "Upgraded connection to {Service} closed after {Seconds:0.###} s: {Reason}")]
    private static partial void LogUpgradeClosed(ILogger logger, string service, double seconds, string reason);

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Static routes for {Count} services: {Names}")]
    private static partial void LogRoutes(ILogger logger, int count, string names);

    [LoggerMessage(EventId = 501, Level = LogLevel.Warning, Message = "Ejected instance {Instance} of {Service} for {Seconds:0.#} s after {Failures} consecutive failures (ejection {Ejections})")]
    private static partial void LogEjected(ILogger logger, string service, string instance, double seconds, int failures, int ejections);

    [LoggerMessage(EventId = 502, Level = LogLevel.Debug, Message = "Not ejecting instance {Instance} of {Service}: {Ejected} of {Total} instances are already out")]
    private static partial void LogEjectionRefused(ILogger logger, string service, string instance, int ejected, int total);

    [LoggerMessage(EventId = 503, Level = LogLevel.Debug, Message = "Retry budget of {Service} is spent: not retrying")]
    private static partial void LogBudgetExhausted(ILogger logger, string service);

    [LoggerMessage(EventId = 504, Level = LogLevel.Debug, Message = "Call to {Service} answered {Status} {Code} after {Attempts} attempt(s): {Detail}")]
    private static partial void LogCallFailed(ILogger logger, string service, int status, string code, int attempts, string detail);

    [LoggerMessage(EventId = 505, Level = LogLevel.Debug, Message = "Response from {Service} cut short: {Reason}")]
    private static partial void LogResponseAborted(ILogger logger, string service, string reason);
}

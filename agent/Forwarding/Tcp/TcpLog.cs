namespace Sidecar.Forwarding.Tcp;

/// <summary>The TCP listeners' log lines (event ids 570-589). None is written for a connection that works.</summary>
internal sealed partial class TcpLog(ILogger<TcpLog> logger)
{
    public void Listening(string address, TcpListenerSpec spec) => LogListening(logger, address, spec.Port, spec.Service);

    public void NotConnected(TcpListenerSpec spec, int attempts, string detail) => LogNotConnected(logger, spec.Port, spec.Service, attempts, detail);

    public void Retrying(TcpListenerSpec spec, string instance, string reason)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            LogRetrying(logger, spec.Port, spec.Service, instance, reason);
        }
    }

    public void OwnListener(TcpListenerSpec spec, string instance, string host, int port) => LogOwnListener(logger, instance, spec.Service, host, port);

    public void IdleClosed(TcpListenerSpec spec, TimeSpan idle)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            LogIdleClosed(logger, spec.Port, spec.Service, Configuration.DurationParser.Format(idle));
        }
    }

    public void StoppedAccepting(int open, TimeSpan drain) => LogStoppedAccepting(logger, open, Configuration.DurationParser.Format(drain));

    public void DrainClosed(int count)
    {
        if (count > 0)
        {
            LogDrainClosed(logger, count);
        }
    }

    public void AcceptFailed(TcpListenerSpec spec, string error) => LogAcceptFailed(logger, spec.Port, error);

    public void Unexpected(TcpListenerSpec spec, Exception exception) => LogUnexpected(logger, exception, spec.Port, spec.Service);

    [LoggerMessage(EventId = 570, Level = LogLevel.Information, Message = "TCP listener on {Address}:{Port}: connections go to {Service}")]
    private static partial void LogListening(ILogger logger, string address, int port, string service);

    [LoggerMessage(EventId = 571, Level = LogLevel.Warning, Message = "TCP connection on port {Port} closed: no instance of {Service} could be reached after {Attempts} attempt(s) ({Detail})")]
    private static partial void LogNotConnected(ILogger logger, int port, string service, int attempts, string detail);

    [LoggerMessage(EventId = 572, Level = LogLevel.Debug, Message = "TCP connection on port {Port}: instance {Instance} of {Service} failed ({Reason}), trying another")]
    private static partial void LogRetrying(ILogger logger, int port, string service, string instance, string reason);

    [LoggerMessage(EventId = 573, Level = LogLevel.Warning, Message = "Instance {Instance} of {Service} at {Host}:{Port} is one of this agent's TCP listeners: left out (connections to it would loop)")]
    private static partial void LogOwnListener(ILogger logger, string instance, string service, string host, int port);

    [LoggerMessage(EventId = 574, Level = LogLevel.Debug, Message = "TCP connection on port {Port} to {Service} closed: idle for {Idle}")]
    private static partial void LogIdleClosed(ILogger logger, int port, string service, string idle);

    [LoggerMessage(EventId = 575, Level = LogLevel.Information, Message = "TCP listeners stopped accepting; {Open} connection(s) open, given until the end of the drain ({Drain})")]
    private static partial void LogStoppedAccepting(ILogger logger, int open, string drain);

    [LoggerMessage(EventId = 576, Level = LogLevel.Information, Message = "Closed {Count} TCP connection(s) still open at the end of the drain")]
    private static partial void LogDrainClosed(ILogger logger, int count);

    [LoggerMessage(EventId = 577, Level = LogLevel.Warning, Message = "TCP listener on port {Port} could not accept a connection: {Error}")]
    private static partial void LogAcceptFailed(ILogger logger, int port, string error);

    [LoggerMessage(EventId = 578, Level = LogLevel.Error, Message = "TCP connection on port {Port} to {Service} failed unexpectedly")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, int port, string service);
}

using System.Net.Sockets;

namespace Sidecar.Forwarding.Tcp;

/// <summary>How one connect attempt to an instance ended.</summary>
internal enum TcpConnectOutcome
{
    Connected,

    /// <summary>The instance's host answered with a reset: nothing listens on the port.</summary>
    Refused,

    /// <summary>No answer within <c>Forwarding:ConnectTimeout</c>.</summary>
    TimedOut,

    /// <summary>No route to the host or its network, or the host name did not resolve.</summary>
    Unreachable,

    /// <summary>Any other socket error.</summary>
    Failed,

    /// <summary>The app's connection was closed, or the agent stops: nobody is waiting for this attempt.</summary>
    Abandoned,
}

/// <summary>What to do after an attempt.</summary>
/// <param name="InstanceFailed">The attempt counts as the instance's failure (towards its ejection).</param>
/// <param name="TryAnother">Connect to another instance, when one is left.</param>
internal readonly record struct TcpConnectDecision(bool InstanceFailed, bool TryAnother);

/// <summary>
/// The rules of a TCP listener's connect attempts (docs/forwarding.md#tcp-listeners), with no I/O: every
/// connect error is the instance's failure and is tried again on another instance, up to the service's
/// <c>Retries</c>; a connection that nobody waits for any more is nobody's failure.
/// </summary>
internal static class TcpConnectDecider
{
    /// <summary>The outcome a connect's socket error stands for.</summary>
    public static TcpConnectOutcome Classify(SocketError error) => error switch
    {
        SocketError.Success => TcpConnectOutcome.Connected,
        SocketError.ConnectionRefused => TcpConnectOutcome.Refused,
        SocketError.TimedOut => TcpConnectOutcome.TimedOut,
        SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostDown or SocketError.NetworkDown
            or SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => TcpConnectOutcome.Unreachable,
        SocketError.OperationAborted => TcpConnectOutcome.Abandoned,
        _ => TcpConnectOutcome.Failed,
    };

    /// <param name="outcome">How the attempt ended.</param>
    /// <param name="attempts">Attempts made so far for this connection, this one included (1 for the first).</param>
    /// <param name="retries">The service's <c>Retries</c>: attempts allowed after the first.</param>
    public static TcpConnectDecision Decide(TcpConnectOutcome outcome, int attempts, int retries) => outcome switch
    {
        TcpConnectOutcome.Connected or TcpConnectOutcome.Abandoned => new(InstanceFailed: false, TryAnother: false),
        _ => new(InstanceFailed: true, TryAnother: attempts <= retries),
    };

    /// <summary>The <c>reason</c> label of <c>sidecar_tcp_connect_failures_total</c>.</summary>
    public static string Reason(TcpConnectOutcome outcome) => outcome switch
    {
        TcpConnectOutcome.Refused => "refused",
        TcpConnectOutcome.TimedOut => "timeout",
        TcpConnectOutcome.Unreachable => "unreachable",
        _ => "error",
    };
}

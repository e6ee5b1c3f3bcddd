using System.Net.Sockets;

namespace Sidecar.Forwarding;

/// <summary>Classifies what SocketsHttpHandler throws.</summary>
internal static class ForwardingErrors
{
    /// <summary>
    /// True when the request provably never reached the instance: the connection could not be made
    /// (refused, unreachable, name not resolved, TLS handshake failed) or the connect time-out fired
    /// (SocketsHttpHandler reports it as a cancellation whose inner exception is a TimeoutException).
    /// Such a request is safe to send elsewhere whatever its method.
    /// </summary>
    public static bool NeverLeft(Exception exception) => exception switch
    {
        HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError } => true,
        HttpRequestException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable } } => true,
        OperationCanceledException { InnerException: TimeoutException } => true,
        _ => false,
    };

    /// <summary>
    /// A one-line reason for a problem detail: messages only, never a stack trace. HttpClient's own
    /// message ("An error occurred while sending the request.") says nothing; the cause it wraps
    /// ("The response ended prematurely.", "Connection reset by peer") is what the app needs.
    /// </summary>
    public static string Describe(Exception exception) => exception switch
    {
        OperationCanceledException { InnerException: TimeoutException } => "connect time-out",
        HttpRequestException { InnerException: IOException { InnerException: SocketException inner } } => inner.Message,
        HttpRequestException { InnerException: { } inner } => WithCause(exception.Message, Innermost(inner).Message),
        _ => exception.Message,
    };

    // "Connection refused (host:port)" already says what its SocketException says.
    private static string WithCause(string message, string cause) =>
        message.Contains(cause.TrimEnd('.'), StringComparison.OrdinalIgnoreCase) ? message : $"{message.TrimEnd('.')}: {cause}";

    private static Exception Innermost(Exception exception)
    {
        // Bounded: a cycle of inner exceptions cannot happen, but a very deep chain says nothing more.
        for (var depth = 0; depth < 8 && exception.InnerException is { } inner; depth++)
        {
            exception = inner;
        }

        return exception;
    }
}

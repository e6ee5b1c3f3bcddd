using System.Net.Sockets;

namespace Sidecar.Platform;

/// <summary>
/// One short, plain reason for a failed outbound call (to the app, Eureka, the Config Server), the
/// same words everywhere in logs and in <c>/v1/health</c>: <c>connection refused</c>, not a .NET message.
/// </summary>
internal static class HttpErrors
{
    public static string Describe(HttpRequestException exception) => exception.InnerException switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused",
        SocketException socket => "connection failed: " + socket.SocketErrorCode,
        IOException => "connection broken",
        _ => exception.HttpRequestError switch
        {
            HttpRequestError.ConnectionError => "connection failed",
            HttpRequestError.NameResolutionError => "host name not found",
            HttpRequestError.SecureConnectionError => "TLS handshake failed",
            HttpRequestError.ResponseEnded => "connection closed before an answer",
            HttpRequestError.InvalidResponse => "invalid response",
            _ => "no answer: " + exception.HttpRequestError,
        },
    };
}

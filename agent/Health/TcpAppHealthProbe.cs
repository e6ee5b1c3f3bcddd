using System.Net.Sockets;
using Sidecar.Configuration;

namespace Sidecar.Health;

/// <summary>
/// Probes <c>APP_HEALTH_URL=tcp://host:port</c>: a TCP connection that opens is healthy, and is closed at
/// once without a byte sent (docs/app-health.md#tcp-checks). For processes that speak no HTTP (PostgreSQL,
/// Redis, Kafka), as Kubernetes' <c>tcpSocket</c> probe and Consul's TCP check do.
/// </summary>
internal sealed class TcpAppHealthProbe : IAppHealthProbe
{
    private readonly string _host;
    private readonly int _port;
    private readonly TimeProvider _time;

    public TcpAppHealthProbe(AppHealthOptions options, TimeProvider time)
    {
        var url = options.Url ?? throw new ArgumentException("no health URL", nameof(options));
        _host = url.IdnHost.Trim('[', ']');
        _port = url.Port;
        _time = time;
    }

    /// <summary>True for a <c>tcp://</c> URL.</summary>
    public static bool IsTcp(Uri url) => url.Scheme == "tcp";

    /// <summary>Reads <c>tcp://host:port</c> from <paramref name="key"/>; a malformed one is an error naming the variable.</summary>
    internal static Uri? ReadUrl(SettingsReader r, string key)
    {
        var value = r.String(key)!;
        if (SettingsReader.TryParseTcpUrl(value, out var url))
        {
            return url;
        }

        r.AddError(key, $"'{value}' is not tcp://host:port (a host and a port, nothing else)");
        return null;
    }

    public async Task<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(_host, _port, cancellationToken).ConfigureAwait(false);
            // A graceful close: a reset would make some servers log an error for every probe.
            socket.Shutdown(SocketShutdown.Both);
            return new ProbeResult(true, null, null, "connected", _time.GetElapsedTime(started));
        }
        catch (SocketException ex)
        {
            return ProbeResult.Failure(Describe(ex.SocketErrorCode), _time.GetElapsedTime(started));
        }
    }

    /// <summary>The same words as an HTTP probe's failures (<c>connection refused</c>).</summary>
    internal static string Describe(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host name not found",
        SocketError.TimedOut => "connect timed out",
        _ => "connection failed: " + error,
    };
}

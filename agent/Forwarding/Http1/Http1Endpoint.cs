using System.Net;
using System.Net.Sockets;

namespace Sidecar.Forwarding.Http1;

/// <summary>
/// The connections to one instance address (host and port): a LIFO stack of idle keep-alive ones, so
/// the warm ones are reused and the others age out after <c>IdleConnectionTimeout</c>, and the
/// connect, bounded by <c>ConnectTimeout</c>. The <c>Host</c> line of its requests is made once here.
/// </summary>
internal sealed class Http1Endpoint : IDisposable
{
    private readonly List<Http1Connection> _idle = [];

    // A Lock rather than Monitor on the list: taken twice per call (rent, return), and a Lock's uncontended
    // enter and exit are one compare-exchange each (docs/performance.md#what-was-tuned).
    private readonly Lock _gate = new();
    private readonly string _host;
    private readonly int _port;
    private readonly IPAddress? _address;
    private readonly TimeSpan _connectTimeout;
    private readonly long _idleMilliseconds;
    private bool _disposed;
    private long _lastUsed = Environment.TickCount64; // the last rent or return: an endpoint nobody used for an idle time-out is dropped

    public Http1Endpoint(Uri uri, TimeSpan connectTimeout, TimeSpan idleTimeout)
    {
        _host = uri.IdnHost;
        _port = uri.Port;
        _address = uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 ? IPAddress.Parse(uri.DnsSafeHost) : null;
        _connectTimeout = connectTimeout;
        _idleMilliseconds = (long)idleTimeout.TotalMilliseconds;
        var host = uri.HostNameType == UriHostNameType.IPv6 ? $"[{_host}]" : _host; // IdnHost has no brackets
        var authority = uri.IsDefaultPort ? host : $"{host}:{_port}";
        HostLine = System.Text.Encoding.Latin1.GetBytes($"Host: {authority}\r\n");
    }

    /// <summary><c>Host: {authority}\r\n</c>, the authority as the URI has it (no port when it is the default).</summary>
    public byte[] HostLine { get; }

    /// <summary>The client that keeps it (an instance's address remembers its endpoint for that client: <see cref="Http1Origin.Endpoint"/>).</summary>
    public object? Owner { get; init; }

    /// <summary>Dropped by its client (swept, or the client disposed): an address that remembered it looks it up again.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed);

    /// <summary>The most recently used idle connection that is still open; null when there is none.</summary>
    public Http1Connection? Rent()
    {
        var now = Environment.TickCount64;
        _lastUsed = now;
        while (true)
        {
            Http1Connection? connection;
            lock (_gate)
            {
                if (_idle.Count == 0)
                {
                    return null;
                }

                connection = _idle[^1];
                _idle.RemoveAt(_idle.Count - 1);
            }

            if (now - connection.IdleSince < _idleMilliseconds && connection.IsUsable())
            {
                return connection;
            }

            connection.Dispose();
        }
    }

    public void Return(Http1Connection connection)
    {
        connection.IdleSince = _lastUsed = Environment.TickCount64;
        lock (_gate)
        {
            if (!_disposed)
            {
                _idle.Add(connection);
                return;
            }
        }

        connection.Dispose();
    }

    /// <summary>
    /// Closes the idle connections older than the idle time-out (the oldest are at the bottom of the stack);
    /// true when none is left and nobody used the endpoint for that long: an instance address that went away
    /// (pods come and go) is then dropped by the handler, as SocketsHttpHandler drops its unused pools.
    /// </summary>
    public bool Sweep()
    {
        var now = Environment.TickCount64;
        lock (_gate)
        {
            var expired = 0;
            while (expired < _idle.Count && now - _idle[expired].IdleSince >= _idleMilliseconds)
            {
                _idle[expired].Dispose();
                expired++;
            }

            _idle.RemoveRange(0, expired);
            return _idle.Count == 0 && now - Volatile.Read(ref _lastUsed) >= _idleMilliseconds;
        }
    }

    /// <summary>
    /// A new connection, as SocketsHttpHandler reports its failures: <see cref="HttpRequestError.ConnectionError"/>
    /// (or <see cref="HttpRequestError.NameResolutionError"/>) with the socket's message and the address,
    /// and the connect time-out as a cancellation whose inner exception is a <see cref="TimeoutException"/>:
    /// what <c>ForwardingErrors.NeverLeft</c> knows is safe to send elsewhere.
    /// </summary>
    public async ValueTask<Http1Connection> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_connectTimeout);
        try
        {
            if (_address is not null)
            {
                await socket.ConnectAsync(new IPEndPoint(_address, _port), timeout.Token).ConfigureAwait(false);
            }
            else
            {
                await socket.ConnectAsync(new DnsEndPoint(_host, _port), timeout.Token).ConfigureAwait(false);
            }

            return new Http1Connection(socket, this);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TaskCanceledException($"The connection to {_host}:{_port} timed out after {_connectTimeout.TotalSeconds} seconds.", new TimeoutException("connect time-out"));
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            var error = ex.SocketErrorCode is SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData
                ? HttpRequestError.NameResolutionError
                : HttpRequestError.ConnectionError;
            throw new HttpRequestException(error, $"{ex.Message} ({_host}:{_port})", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (var connection in _idle)
            {
                connection.Dispose();
            }

            _idle.Clear();
        }
    }
}

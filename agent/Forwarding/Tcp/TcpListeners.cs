using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Forwarding.Tcp;

/// <summary>
/// The TCP listeners (<c>SIDECAR_TCP_LISTENERS</c>, docs/forwarding.md#tcp-listeners): one socket per port on the
/// API's address, bound at start (a port in use stops the start: one line, exit code 2), an accept loop each,
/// the open connections and their idle time-out. On SIGTERM (this service's <c>StoppingAsync</c> runs before
/// the registration's drain) the listeners stop accepting; the open connections are given until the end of
/// the drain (<c>SIDECAR_DRAIN</c> from the SIGTERM), then closed (<c>StopAsync</c>, after the supervised app stopped).
/// </summary>
internal sealed class TcpListeners(
    ForwardingOptions options,
    SidecarOptions sidecar,
    TcpConnector connector,
    TcpMetrics metrics,
    TcpLog log,
    AgentExit? exit = null,
    Observability.AgentTracing? tracing = null,
    TcpListenerSockets? reserved = null) : IHostedLifecycleService, IDisposable
{
    private readonly List<(Socket Socket, TcpListenerSpec Spec)> _listening = [];
    private readonly ConcurrentDictionary<TcpConnection, TcpListenerSpec> _open = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _ended = new(); // the idle time-out applies during the drain too
    private readonly List<Task> _loops = [];
    private long _drainDeadline = long.MaxValue;
    private int _stopped;
    private int _disposed;

    /// <summary>Connections open now (tests, diagnostics).</summary>
    public int OpenConnections => _open.Count;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Binds every listener; the first that cannot be bound stops the start with one line naming it.</summary>
    /// <exception cref="AgentStartException">When a port is in use or cannot be bound.</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var spec in options.TcpListeners)
        {
            // A port 0 listener's socket was bound while the options were read (TcpListenerSockets).
            var socket = reserved?.Take(spec.Port) is { } bound ? Listen(bound, spec) : Bind(sidecar.BindAddress, spec, listen: true);
            _listening.Add((socket, spec));
        }

        foreach (var (socket, spec) in _listening)
        {
            log.Listening(Shown(sidecar.BindAddress), spec);
            _loops.Add(AcceptAsync(socket, spec, metrics.For(spec.Port)));
        }

        if (options.TcpIdleTimeout > TimeSpan.Zero)
        {
            _loops.Add(SweepIdleAsync(options.TcpIdleTimeout));
        }

        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>SIGTERM: no new connection from now on; the open ones keep going until the drain's end.</summary>
    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        var drain = exit?.SkipDrain == true ? TimeSpan.Zero : sidecar.Drain;
        if (StopAccepting(drain) && _listening.Count > 0)
        {
            log.StoppedAccepting(_open.Count, drain);
        }

        return Task.CompletedTask;
    }

    /// <summary>Waits for the open connections until the drain's end, then closes what is left.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        StopAccepting(TimeSpan.Zero); // a stop without StoppingAsync (a failed start) has nothing to drain
        try
        {
            while (!_open.IsEmpty && Environment.TickCount64 < Volatile.Read(ref _drainDeadline))
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // the host's shutdown time-out: close now
        }

        var closed = 0;
        foreach (var (connection, spec) in _open)
        {
            if (!connection.IsClosed)
            {
                metrics.For(spec.Port).ClosedBy("drain");
                connection.ClosedBy = "drain";
                connection.Close(reset: false);
                closed++;
            }
        }

        log.DrainClosed(closed);
        await _ended.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return; // registered twice (itself and as a hosted service): disposed twice
        }

        StopAccepting(TimeSpan.Zero);
        foreach (var connection in _open.Keys)
        {
            connection.Close(reset: true);
        }

        _ended.Cancel();
        _stopping.Dispose();
        _ended.Dispose();
    }

    // Returns true the first time: the listening sockets are closed and the drain's end fixed.
    private bool StopAccepting(TimeSpan drain)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return false;
        }

        Volatile.Write(ref _drainDeadline, Environment.TickCount64 + (long)drain.TotalMilliseconds);
        _stopping.Cancel();
        foreach (var (socket, _) in _listening)
        {
            socket.Dispose();
        }

        return true;
    }

    /// <summary>A socket bound to the listener's address and port (listening when <paramref name="listen"/>).</summary>
    /// <exception cref="AgentStartException">When the port is in use or cannot be bound: one line naming the listener.</exception>
    internal static Socket Bind(IPAddress address, TcpListenerSpec spec, bool listen)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            if (!OperatingSystem.IsWindows())
            {
                // As Kestrel's listeners: a restart binds again at once despite connections in TIME_WAIT (a listening socket still refuses).
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            }

            socket.Bind(new IPEndPoint(address, spec.Port));
            return listen ? Listen(socket, spec) : socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw Failed(address, spec, ex);
        }
    }

    private static Socket Listen(Socket socket, TcpListenerSpec spec)
    {
        try
        {
            socket.Listen(512);
            return socket;
        }
        catch (SocketException ex)
        {
            var address = ((IPEndPoint)socket.LocalEndPoint!).Address;
            socket.Dispose();
            throw Failed(address, spec, ex);
        }
    }

    private static AgentStartException Failed(IPAddress address, TcpListenerSpec spec, SocketException ex)
    {
        var why = ex.SocketErrorCode switch
        {
            SocketError.AddressAlreadyInUse => "the port is already in use",
            SocketError.AccessDenied => "permission denied",
            SocketError.AddressNotAvailable => "the address is not one of this host's",
            _ => ex.SocketErrorCode.ToString(),
        };
        return new AgentStartException($"cannot listen on {Shown(address)}:{spec.Port} (SIDECAR_TCP_LISTENERS {spec.Port}={spec.Service}): {why}");
    }

    private static string Shown(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();

    private async Task AcceptAsync(Socket listener, TcpListenerSpec spec, TcpListenerCounters counters)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || (ex is SocketException && _stopping.IsCancellationRequested))
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of file descriptors, say: the next accept may work once connections end.
                log.AcceptFailed(spec, ex.SocketErrorCode.ToString());
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }

            _ = ServeAsync(client, spec, counters);
        }
    }

    private async Task ServeAsync(Socket client, TcpListenerSpec spec, TcpListenerCounters counters)
    {
        var connection = new TcpConnection(client, counters);
        _open[connection] = spec;
        counters.Opened();
        var span = TcpTracing.Start(tracing, spec);
        InstanceState? instance = null;
        try
        {
            if (_stopping.IsCancellationRequested)
            {
                connection.Close(reset: true); // accepted as the listener closed: refused like the ones after
                return;
            }

            var connected = await connector.ConnectAsync(spec, counters, connection.Abandoned, span).ConfigureAwait(false);
            if (connected is not { } upstream)
            {
                connection.Close(reset: true); // a reset, not a clean end: the app's driver reports a failed connection
                return;
            }

            instance = upstream.Instance;
            await connection.RelayAsync(upstream.Socket).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // one connection's surprise must not take the listener down
        catch (Exception ex)
#pragma warning restore CA1031
        {
            log.Unexpected(spec, ex);
        }
        finally
        {
            instance?.Release();
            counters.Ended();
            TcpTracing.Stop(span, connection); // before it leaves the open ones: whoever waits for those finds the span ended
            _open.TryRemove(connection, out _);
            connection.Dispose();
        }
    }

    private async Task SweepIdleAsync(TimeSpan idle)
    {
        var idleMs = (long)idle.TotalMilliseconds;
        var period = TimeSpan.FromMilliseconds(Math.Clamp(idleMs / 4, 50, 1000));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(_ended.Token).ConfigureAwait(false))
            {
                var now = Environment.TickCount64;
                foreach (var (connection, spec) in _open)
                {
                    if (!connection.IsClosed && now - connection.LastActivity >= idleMs)
                    {
                        metrics.For(spec.Port).ClosedBy("idle");
                        log.IdleClosed(spec, idle);
                        connection.ClosedBy = "idle";
                        connection.Close(reset: false);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }
}

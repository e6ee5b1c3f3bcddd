using System.Buffers;
using System.Net.Sockets;

namespace Sidecar.Forwarding.Tcp;

/// <summary>
/// One connection of a TCP listener: the app's socket and, once connected, the instance's; the bytes copied
/// both ways by two asynchronous pumps (no thread of its own), a half-close passed on (a FIN read on one side
/// is a shutdown of sending on the other), a reset or error on either side ending both
/// (docs/forwarding.md#tcp-listeners). A pump waits for data with a zero-byte read and rents its 32 KiB
/// buffer from the shared pool only while bytes flow, so idle connections (a database pool's) hold no buffer.
/// </summary>
internal sealed class TcpConnection : IDisposable
{
    private const int BufferSize = 32 * 1024;

    private readonly TcpListenerCounters _counters;
    private readonly CancellationTokenSource _abandon = new();
    private Socket? _upstream;
    private long _lastActivity = Environment.TickCount64;
    private long _bytesToInstance;
    private long _bytesToApp;
    private int _closed;

    public TcpConnection(Socket client, TcpListenerCounters counters)
    {
        Client = client;
        _counters = counters;
        NoDelay(client);
    }

    public Socket Client { get; }

    /// <summary>Cancelled when the agent closes the connection before it is relayed (drain): the connect attempts stop.</summary>
    public CancellationToken Abandoned => _abandon.Token;

    /// <summary><see cref="Environment.TickCount64"/> when a byte last moved either way (or when the connection was accepted).</summary>
    public long LastActivity => Volatile.Read(ref _lastActivity);

    /// <summary>Bytes this connection relayed from the app to the instance (each count is written by one pump only).</summary>
    public long BytesToInstance => Volatile.Read(ref _bytesToInstance);

    /// <summary>Bytes this connection relayed from the instance to the app.</summary>
    public long BytesToApp => Volatile.Read(ref _bytesToApp);

    /// <summary>Why the agent closed the connection itself (<c>idle</c>, <c>drain</c>); null when a peer ended it.</summary>
    public string? ClosedBy { get; set; }

    /// <summary>True once the relay ended or the agent closed the connection.</summary>
    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Copies both ways until both directions are finished or one fails; then closes both sockets.</summary>
    public async Task RelayAsync(Socket upstream)
    {
        Volatile.Write(ref _upstream, upstream);
        NoDelay(upstream);
        if (IsClosed)
        {
            upstream.Dispose(); // closed while connecting
            return;
        }

        Touch();
        var toInstance = PumpAsync(Client, upstream, toInstance: true);
        var toApp = PumpAsync(upstream, Client, toInstance: false);
        await Task.WhenAll(toInstance, toApp).ConfigureAwait(false);
        Close(reset: false);
    }

    /// <summary>Ends the connection from the agent's side: a FIN both ways (idle time-out, end of the drain), or a reset after an error.</summary>
    public void Close(bool reset)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        try
        {
            _abandon.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // the connection's own end disposed it meanwhile: nothing is connecting any more
        }

        End(Client, reset);
        if (Volatile.Read(ref _upstream) is { } upstream)
        {
            End(upstream, reset);
        }
    }

    public void Dispose()
    {
        Close(reset: true);
        _abandon.Dispose();
    }

    private static void End(Socket socket, bool reset)
    {
        try
        {
            if (reset)
            {
                socket.LingerState = new LingerOption(true, 0); // close sends RST: the peer learns it was not a clean end
            }
            else
            {
                socket.Shutdown(SocketShutdown.Both);
            }
        }
        catch (SocketException)
        {
            // already reset by the peer
        }
        catch (ObjectDisposedException)
        {
        }

        socket.Dispose();
    }

    // Small writes (a Redis command, a Postgres message) go out at once, as Envoy and haproxy do; a peer
    // that already reset its side makes the option fail, which the relay then finds out by itself.
    private static void NoDelay(Socket socket)
    {
        try
        {
            socket.NoDelay = true;
        }
        catch (SocketException)
        {
        }
    }

    private void Touch() => Volatile.Write(ref _lastActivity, Environment.TickCount64);

    private async Task PumpAsync(Socket from, Socket to, bool toInstance)
    {
        byte[]? buffer = null;
        try
        {
            while (true)
            {
                // Wait for data (or the peer's FIN) without holding a buffer.
                await from.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
                int read;
                do
                {
                    read = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false);
                    if (read == 0)
                    {
                        // The peer will send no more: pass the half-close on; the other direction goes on.
                        to.Shutdown(SocketShutdown.Send);
                        return;
                    }

                    Touch();
                    _counters.Relayed(toInstance, read);
                    if (toInstance)
                    {
                        Volatile.Write(ref _bytesToInstance, _bytesToInstance + read);
                    }
                    else
                    {
                        Volatile.Write(ref _bytesToApp, _bytesToApp + read);
                    }

                    var sent = 0;
                    while (sent < read)
                    {
                        sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None).ConfigureAwait(false);
                    }
                }
                while (read == buffer.Length); // a full buffer: more is probably waiting, keep the buffer

                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
            // A reset or error on either side, or the agent closed the connection: the other side learns of it by a reset.
            Close(reset: !IsClosed);
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}

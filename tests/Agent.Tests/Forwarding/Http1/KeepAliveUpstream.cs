using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sidecar.Tests.Forwarding.Http1;

/// <summary>One request as a <see cref="KeepAliveUpstream"/> received it: on which connection, its head and its body (de-chunked).</summary>
public sealed record ReceivedRequest(int Connection, string Head, byte[] Body);

/// <summary>What a <see cref="KeepAliveUpstream"/> does with a request: the bytes it answers, then whether it closes; null answer: close without a byte.</summary>
public sealed record Reply(byte[]? Answer, bool Close = false);

/// <summary>
/// An instance on 127.0.0.1:0 that speaks HTTP/1.1 by hand and keeps its connections open between
/// answers unless told otherwise: the pooling tests see which connection each request came on.
/// </summary>
public sealed class KeepAliveUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<int, ReceivedRequest, Reply> _reply;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<ReceivedRequest> _requests = new();
    private readonly ConcurrentQueue<Socket> _sockets = new();
    private readonly Task _accepting;
    private int _connections;
    private int _count;

    public KeepAliveUpstream(Func<int, ReceivedRequest, Reply> reply)
    {
        _reply = reply;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public Uri Url => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    public int Connections => Volatile.Read(ref _connections);

    public IReadOnlyList<ReceivedRequest> Requests => [.. _requests];

    /// <summary>Signalled when the client closes a connection (end of stream, or a reset).</summary>
    public SemaphoreSlim ClosedByClient { get; } = new(0);

    /// <summary>Signalled when this instance closed a connection after a reply that said to.</summary>
    public SemaphoreSlim ClosedByServer { get; } = new(0);

    public static byte[] Text(string answer) => Encoding.Latin1.GetBytes(answer);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        while (_sockets.TryDequeue(out var socket))
        {
            socket.Dispose();
        }

        try
        {
            await _accepting;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // stopped
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var socket = await _listener.AcceptSocketAsync(_stop.Token);
            _sockets.Enqueue(socket);
            _ = ServeAsync(socket, Interlocked.Increment(ref _connections));
        }
    }

    private async Task ServeAsync(Socket socket, int connection)
    {
        var pending = new List<byte>();
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                int end;
                while ((end = IndexOf(pending, "\r\n\r\n"u8.ToArray())) < 0)
                {
                    if (!await ReceiveAsync(socket, pending, buffer))
                    {
                        ClosedByClient.Release();
                        return;
                    }
                }

                var head = Encoding.Latin1.GetString(pending.GetRange(0, end + 4).ToArray());
                pending.RemoveRange(0, end + 4);
                var body = await ReadBodyAsync(socket, head, pending, buffer);
                var request = new ReceivedRequest(connection, head, body);
                _requests.Enqueue(request);
                var reply = _reply(Interlocked.Increment(ref _count), request);
                if (reply.Answer is not null)
                {
                    await socket.SendAsync(reply.Answer, SocketFlags.None, _stop.Token);
                }

                if (reply.Close || reply.Answer is null)
                {
                    socket.Shutdown(SocketShutdown.Both);
                    socket.Dispose();
                    ClosedByServer.Release();
                    return;
                }
            }
        }
        catch (SocketException)
        {
            ClosedByClient.Release(); // reset: the client closed with bytes unread
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // the test is over
        }
    }

    private async Task<byte[]> ReadBodyAsync(Socket socket, string head, List<byte> pending, byte[] buffer)
    {
        var length = 0;
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(line[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (line.Equals("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
            {
                return await ReadChunkedAsync(socket, pending, buffer);
            }
        }

        while (pending.Count < length && await ReceiveAsync(socket, pending, buffer))
        {
        }

        var body = pending.GetRange(0, Math.Min(length, pending.Count)).ToArray();
        pending.RemoveRange(0, body.Length);
        return body;
    }

    private async Task<byte[]> ReadChunkedAsync(Socket socket, List<byte> pending, byte[] buffer)
    {
        var body = new List<byte>();
        while (true)
        {
            int end;
            while ((end = IndexOf(pending, "\r\n"u8.ToArray())) < 0)
            {
                await ReceiveAsync(socket, pending, buffer);
            }

            var size = Convert.ToInt32(Encoding.ASCII.GetString(pending.GetRange(0, end).ToArray()), 16);
            pending.RemoveRange(0, end + 2);
            while (pending.Count < size + 2)
            {
                await ReceiveAsync(socket, pending, buffer);
            }

            body.AddRange(pending.GetRange(0, size));
            pending.RemoveRange(0, size + 2);
            if (size == 0)
            {
                return [.. body];
            }
        }
    }

    private async Task<bool> ReceiveAsync(Socket socket, List<byte> pending, byte[] buffer)
    {
        var read = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
        pending.AddRange(buffer.AsSpan(0, read));
        return read > 0;
    }

    /// <summary>Where <paramref name="pattern"/> first occurs in <paramref name="bytes"/>; -1 when it does not.</summary>
    internal static int IndexOf(List<byte> bytes, byte[] pattern)
    {
        for (var i = 0; i + pattern.Length <= bytes.Count; i++)
        {
            var match = true;
            for (var j = 0; j < pattern.Length && match; j++)
            {
                match = bytes[i + j] == pattern[j];
            }

            if (match)
            {
                return i;
            }
        }

        return -1;
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// An upstream instance on 127.0.0.1:0 that speaks HTTP/1.1 by hand: it records each request head as
/// the bytes that arrived and answers with the bytes a test gives, however wrong (non-ASCII or control
/// characters in headers, a 101 nobody asked for). Each answer ends its connection.
/// </summary>
public sealed class RawUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentQueue<byte[]> _heads = new();
    private readonly Func<int, byte[], byte[]> _answer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _count;

    private RawUpstream(Func<int, byte[], byte[]> answer)
    {
        _answer = answer;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Url => $"http://127.0.0.1:{Port}";

    public int Count => Volatile.Read(ref _count);

    /// <summary>The request heads received, as bytes.</summary>
    public IReadOnlyList<byte[]> Heads => [.. _heads];

    /// <param name="answer">The bytes of the answer to the n-th request (from 1), status line to body.</param>
    public static RawUpstream Start(Func<int, byte[]> answer) => new((n, _) => answer(n));

    /// <param name="answer">The bytes of the answer to a request head (as it arrived), status line to body.</param>
    public static RawUpstream StartByRequest(Func<byte[], byte[]> answer) => new((_, head) => answer(head));

    /// <summary>An answer written in Latin-1 (one byte per character, as the wire has it).</summary>
    public static byte[] Latin1(string text) => Encoding.Latin1.GetBytes(text);

    /// <summary>The value of a header in a recorded head, as its bytes; null when absent.</summary>
    public static byte[]? HeaderBytes(byte[] head, string name)
    {
        foreach (var line in Encoding.Latin1.GetString(head).Split("\r\n"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return Encoding.Latin1.GetBytes(line[(colon + 1)..].Trim());
            }
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
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
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = new MemoryStream();
                var buffer = new byte[4096];
                while (!EndsHead(head))
                {
                    var read = await stream.ReadAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    head.Write(buffer, 0, read);
                }

                _heads.Enqueue(head.ToArray());
                var answer = _answer(Interlocked.Increment(ref _count), head.ToArray());
                await stream.WriteAsync(answer, _stop.Token);
                await stream.FlushAsync(_stop.Token);
                client.Client.Shutdown(SocketShutdown.Send);

                // Until the agent closes its side: closing first would reset the connection before it read the answer.
                while (await stream.ReadAsync(buffer, _stop.Token) > 0)
                {
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
            {
                // the agent went away, or the test is over
            }
        }
    }

    private static bool EndsHead(MemoryStream head)
    {
        var bytes = head.GetBuffer().AsSpan(0, (int)head.Length);
        return bytes.IndexOf("\r\n\r\n"u8) >= 0;
    }
}

using System.Net;
using System.Net.Sockets;

namespace Sidecar.Tests.Forwarding.Http1;

/// <summary>
/// An instance on 127.0.0.1:0 that takes one connection, reads the request's head only, answers
/// <c>413</c> with the body <c>too big</c> at once and then holds the connection open without reading
/// on or closing, until disposed: the early answer a client must pass back rather than block on a full socket.
/// </summary>
public sealed class EarlyAnswerUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly SemaphoreSlim _held = new(0);
    private readonly Task _serving;

    public EarlyAnswerUpstream()
    {
        _listener.Start();
        _serving = ServeAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public async ValueTask DisposeAsync()
    {
        _held.Release();
        await _serving;
        _listener.Dispose();
        _held.Dispose();
    }

    private async Task ServeAsync()
    {
        using var socket = await _listener.AcceptSocketAsync();
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 4 || !head.TakeLast(4).SequenceEqual("\r\n\r\n"u8.ToArray()))
        {
            if (await socket.ReceiveAsync(one, SocketFlags.None) == 0)
            {
                return;
            }

            head.Add(one[0]);
        }

        await socket.SendAsync(KeepAliveUpstream.Text("HTTP/1.1 413 Content Too Large\r\nContent-Length: 7\r\n\r\ntoo big"), SocketFlags.None);
        await _held.WaitAsync(TimeSpan.FromSeconds(60));
    }
}

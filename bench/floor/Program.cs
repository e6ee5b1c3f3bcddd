// The floor of this stack (docs/performance.md#the-floor-of-this-stack): what .NET's sockets reach when nothing else
// is in the way. One upstream connection per client connection, the request head passed through as read, the
// response framed by Content-Length only, socket completions run inline. A benchmark reference, NOT a proxy to use:
// no framing defences (no chunked bodies, no checks on Content-Length, HEAD/204/304 answers not framed), no timeouts.
// Usage: floor LISTEN_PORT UPSTREAM_IP:PORT (port 0 picks one; the first line names it).
using System.Net;
using System.Net.Sockets;
using Bench;

if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    // Read when the socket engine starts: before the first socket.
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

if (args.Length != 2 || !int.TryParse(args[0], out var port) || !IPEndPoint.TryParse(args[1], out var upstream))
{
    Console.Error.WriteLine("usage: floor LISTEN_PORT UPSTREAM_IP:PORT");
    return 2;
}

using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
listener.Listen(512);
Console.WriteLine($"floor listening on 127.0.0.1:{((IPEndPoint)listener.LocalEndPoint!).Port}, forwarding to {upstream}");
while (true)
{
    var client = await listener.AcceptAsync();
    _ = Relay.ServeAsync(client, upstream);
}

internal static class Relay
{
    public static async Task ServeAsync(Socket client, IPEndPoint upstreamAddress)
    {
        using var up = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await up.ConnectAsync(upstreamAddress);
            var request = new byte[16 * 1024];
            var response = new byte[64 * 1024];
            var buffered = 0; // request bytes read and not yet sent (a pipelined next request)
            while (true)
            {
                int head;
                while ((head = Http.HeadLength(request.AsSpan(0, buffered))) < 0)
                {
                    var n = buffered < request.Length ? await client.ReceiveAsync(request.AsMemory(buffered), SocketFlags.None) : 0;
                    if (n == 0) return;
                    buffered += n;
                }

                var total = head + Math.Max(Http.ContentLength(request.AsSpan(0, head)), 0);
                var now = (int)Math.Min(total, buffered);
                await up.SendAsync(request.AsMemory(0, now), SocketFlags.None);
                request.AsSpan(now, buffered - now).CopyTo(request);
                buffered -= now;
                if (!await CopyAsync(client, up, request, total - now)) return;

                var read = 0;
                int responseHead;
                while ((responseHead = Http.HeadLength(response.AsSpan(0, read))) < 0)
                {
                    var n = read < response.Length ? await up.ReceiveAsync(response.AsMemory(read), SocketFlags.None) : 0;
                    if (n == 0) return;
                    read += n;
                }

                var length = Http.ContentLength(response.AsSpan(0, responseHead));
                if (length < 0) return; // not framed by Content-Length: out of the floor's scope
                await client.SendAsync(response.AsMemory(0, read), SocketFlags.None);
                if (!await CopyAsync(up, client, response, responseHead + length - read)) return;
            }
        }
        catch (SocketException)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    private static async Task<bool> CopyAsync(Socket from, Socket to, byte[] buffer, long remaining)
    {
        while (remaining > 0)
        {
            var n = await from.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), SocketFlags.None);
            if (n == 0) return false;
            await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None);
            remaining -= n;
        }

        return true;
    }
}

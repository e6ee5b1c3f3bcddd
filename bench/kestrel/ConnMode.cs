using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Bench;

namespace KestrelAlone;

/// <summary>
/// kestrel-conn (docs/performance.md#forwarders-on-kestrel): Kestrel's socket transport and pipes with bench/floor's
/// relay on them. A connection middleware that never calls Kestrel's HTTP layer: request heads read from the
/// connection's input pipe and passed on as read to one upstream socket per client connection, the answer framed by
/// Content-Length and written to the output pipe. A benchmark reference, NOT a proxy to use: no framing defences
/// (no chunked bodies, no checks on Content-Length, HEAD/204/304 answers not framed), no time-outs.
/// </summary>
internal static class ConnMode
{
    public static async Task ServeAsync(ConnectionContext connection, IPEndPoint upstreamAddress)
    {
        using var up = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        var scratch = new byte[16 * 1024]; // a head that spans the pipe's segments, made contiguous
        var response = new byte[64 * 1024];
        try
        {
            await up.ConnectAsync(upstreamAddress);
            while (true)
            {
                var result = await input.ReadAsync();
                var buffer = result.Buffer;
                if (Http.HeadEnd(buffer) is not { } end)
                {
                    if (result.IsCompleted || buffer.Length >= scratch.Length) return;
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }

                var head = buffer.Slice(0, end);
                ReadOnlyMemory<byte> bytes;
                if (head.IsSingleSegment)
                {
                    bytes = head.First;
                }
                else
                {
                    if (head.Length > scratch.Length) return;
                    head.CopyTo(scratch);
                    bytes = scratch.AsMemory(0, (int)head.Length);
                }

                var requestBody = Math.Max(Http.ContentLength(bytes.Span), 0);
                await up.SendAsync(bytes, SocketFlags.None);
                input.AdvanceTo(end);
                if (requestBody > 0 && !await CopyBodyAsync(input, up, requestBody)) return;

                var read = 0;
                int responseHead;
                while ((responseHead = Http.HeadLength(response.AsSpan(0, read))) < 0)
                {
                    var n = read < response.Length ? await up.ReceiveAsync(response.AsMemory(read), SocketFlags.None) : 0;
                    if (n == 0) return;
                    read += n;
                }

                var length = Http.ContentLength(response.AsSpan(0, responseHead));
                if (length < 0) return; // not framed by Content-Length: out of this reference's scope
                await output.WriteAsync(response.AsMemory(0, read));
                for (var remaining = responseHead + length - read; remaining > 0;)
                {
                    var n = await up.ReceiveAsync(response.AsMemory(0, (int)Math.Min(response.Length, remaining)), SocketFlags.None);
                    if (n == 0) return;
                    await output.WriteAsync(response.AsMemory(0, n));
                    remaining -= n;
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            // The client or the upstream went away: the connection ends, as in bench/floor.
        }
    }


    /// <summary>A request body of <paramref name="remaining"/> bytes from the input pipe to the upstream; false when the client left first.</summary>
    private static async Task<bool> CopyBodyAsync(PipeReader input, Socket up, long remaining)
    {
        while (remaining > 0)
        {
            var result = await input.ReadAsync();
            var body = result.Buffer.Slice(0, Math.Min(result.Buffer.Length, remaining));
            foreach (var segment in body)
            {
                await up.SendAsync(segment, SocketFlags.None);
            }

            remaining -= body.Length;
            input.AdvanceTo(body.End);
            if (remaining > 0 && result.IsCompleted) return false;
        }

        return true;
    }
}

using System.Buffers;
using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Bench;

namespace KestrelAlone;

/// <summary>
/// kestrel-proxy (docs/performance.md#forwarders-on-kestrel): Kestrel's whole HTTP server (parser, HttpContext, the
/// request delegate) with the least possible forwarder behind it: GET only, the request head written by hand (path,
/// query and Host, no other field), keep-alive upstream connections in a stack under a lock, the answer's status and
/// fields copied to <see cref="HttpResponse"/>, its body (Content-Length framing only) written to the body pipe.
/// A benchmark reference, NOT a proxy to use: no hop-by-hop rules beyond Connection, no chunked answers, no time-outs.
/// </summary>
internal sealed class ProxyMode(IPEndPoint upstream)
{
    // Field names nginx sends with a static file, as strings once: a real forwarder would not allocate the common ones.
    private static readonly string[] KnownNames = ["Server", "Date", "Content-Type", "Last-Modified", "ETag", "Accept-Ranges"];

    private readonly Stack<Upstream> idle = new();
    private readonly byte[] hostLine = Encoding.ASCII.GetBytes($" HTTP/1.1\r\nHost: {upstream}\r\n\r\n");

    public async Task ForwardAsync(HttpContext context)
    {
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }

        Upstream? connection = null;
        try
        {
            connection = Rent();
            var (head, read) = connection is null ? (-1, 0) : await ExchangeAsync(connection, context.Request);
            if (connection is null || head < 0)
            {
                // No pooled connection, or one the upstream closed while it was idle (nginx's keepalive_timeout):
                // a new one, as any forwarder does for a GET that got no answer byte.
                connection?.Socket.Dispose();
                connection = await ConnectAsync();
                (head, read) = await ExchangeAsync(connection, context.Request);
                if (head < 0) throw new IOException("the upstream closed the connection");
            }

            var buffer = connection.Buffer;
            var contentLength = CopyHead(buffer.AsSpan(0, head), context.Response);
            if (contentLength < 0 || read - head > contentLength) throw new IOException("an answer not framed by Content-Length");
            var body = context.Response.BodyWriter;
            body.Write(buffer.AsSpan(head, read - head));
            for (var remaining = contentLength - (read - head); remaining > 0;)
            {
                // Straight into Kestrel's output pipe; Kestrel flushes when the delegate ends.
                var memory = body.GetMemory();
                var n = await connection.Socket.ReceiveAsync(memory[..(int)Math.Min(memory.Length, remaining)], SocketFlags.None);
                if (n == 0) throw new IOException("the upstream closed the connection");
                body.Advance(n);
                remaining -= n;
            }

            Return(connection);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            connection?.Socket.Dispose();
            if (context.Response.HasStarted) context.Abort();
            else
            {
                context.Response.Clear(); // a status and fields copied from a broken answer go too
                context.Response.StatusCode = StatusCodes.Status502BadGateway;
            }
        }
    }

    /// <summary>
    /// The request head sent and the answer's head read into the connection's buffer: the head's length and the bytes
    /// read, or (-1, 0) when the connection was closed before any byte of an answer.
    /// </summary>
    private async Task<(int Head, int Read)> ExchangeAsync(Upstream connection, HttpRequest request)
    {
        var buffer = connection.Buffer;
        var read = 0;
        try
        {
            await connection.Socket.SendAsync(buffer.AsMemory(0, WriteHead(buffer, request)), SocketFlags.None);
            int head;
            while ((head = Http.HeadLength(buffer.AsSpan(0, read))) < 0)
            {
                var n = read < buffer.Length ? await connection.Socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None) : 0;
                if (n == 0) return read == 0 ? (-1, 0) : throw new IOException("the upstream closed the connection");
                read += n;
            }

            return (head, read);
        }
        catch (SocketException) when (read == 0)
        {
            return (-1, 0);
        }
    }

    /// <summary>"GET {path}{query} HTTP/1.1\r\nHost: {upstream}\r\n\r\n" into <paramref name="buffer"/>; its length.</summary>
    private int WriteHead(byte[] buffer, HttpRequest request)
    {
        var span = buffer.AsSpan();
        "GET "u8.CopyTo(span);
        var at = 4;
        // Kestrel's path is decoded; a forwarder on its HTTP layer would send the raw target (IHttpRequestFeature.RawTarget).
        at += Encoding.ASCII.GetBytes(request.Path.Value ?? "/", span[at..]);
        at += Encoding.ASCII.GetBytes(request.QueryString.Value ?? "", span[at..]);
        hostLine.CopyTo(span[at..]);
        return at + hostLine.Length;
    }

    /// <summary>The status and fields of the answer's head into <paramref name="response"/>; its Content-Length, or -1 without one.</summary>
    private static long CopyHead(ReadOnlySpan<byte> head, HttpResponse response)
    {
        var end = head.IndexOf("\r\n"u8);
        if (end < 12 || !Utf8Parser.TryParse(head.Slice(9, 3), out int status, out _)) return -1;
        response.StatusCode = status;
        head = head[(end + 2)..];
        long contentLength = -1;
        while ((end = head.IndexOf("\r\n"u8)) > 0)
        {
            var line = head[..end];
            head = head[(end + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0) return -1;
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim((byte)' ');
            if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!Utf8Parser.TryParse(value, out contentLength, out _)) return -1;
                response.ContentLength = contentLength;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                return -1;
            }
            else if (!Ascii.EqualsIgnoreCase(name, "Connection"u8) && !Ascii.EqualsIgnoreCase(name, "Keep-Alive"u8))
            {
                response.Headers.Append(Known(name) ?? Encoding.Latin1.GetString(name), Encoding.Latin1.GetString(value));
            }
        }

        return contentLength;
    }

    private static string? Known(ReadOnlySpan<byte> name)
    {
        foreach (var known in KnownNames)
        {
            if (Ascii.EqualsIgnoreCase(name, known)) return known;
        }

        return null;
    }

    private Upstream? Rent()
    {
        lock (idle)
        {
            return idle.TryPop(out var connection) ? connection : null;
        }
    }

    private void Return(Upstream connection)
    {
        lock (idle)
        {
            idle.Push(connection);
        }
    }

    private async Task<Upstream> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(upstream);
            return new Upstream(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private sealed class Upstream(Socket socket)
    {
        public Socket Socket { get; } = socket;

        /// <summary>The request head going out, then the answer coming in (one exchange at a time).</summary>
        public byte[] Buffer { get; } = new byte[16 * 1024];
    }
}

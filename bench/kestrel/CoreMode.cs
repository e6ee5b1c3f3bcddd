using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace KestrelAlone;

/// <summary>
/// kestrel-core (docs/performance.md#a-forwarding-core-below-kestrels-http-layer): kestrel-conn's place (Kestrel's
/// transport and pipes, a connection middleware that never calls Kestrel's HTTP layer) with a model of the work the
/// agent does per plain call by default, written as tight as this author could, in one async method per connection:
/// <list type="bullet">
/// <item>the request head parsed (request line, fields: token names, values with no control character, one Host, no
/// body, no Upgrade), what Kestrel's parser checks and the agent's check of the caller's values;</item>
/// <item><c>/v1/invoke/{service}/{path}</c> routed: the service found among several, the path checked for dot segments
/// and backslashes, a Via naming this agent refused (a loop), TRACE and CONNECT refused, a browser's request
/// (<c>Sec-Fetch-Site</c>, <c>Origin</c>) refused;</item>
/// <item>an instance picked round-robin among those not ejected, the retry budget's deposit, a deadline
/// (a pooled <see cref="CancellationTokenSource"/> set to fire, the caller's disconnect linked to it);</item>
/// <item>the upstream head written with the proxy's rules: hop-by-hop fields and those <c>Connection</c> names dropped,
/// Host the instance's, X-Forwarded-For/-Proto/-Host and Via added, a new W3C traceparent when the caller sent none;
/// sent on a pooled keep-alive connection (a stack under a lock, a stale one replaced once);</item>
/// <item>the answer's head read under the deadline and parsed strictly (status line, fields, Content-Length,
/// Transfer-Encoding, Connection), judged (a 5xx counts against the instance, another answer clears its failures),
/// written to the caller with hop-by-hop fields dropped and its body framed by Content-Length;</item>
/// <item>the call counted (a cell per method class and status) and timed (a histogram bucket).</item>
/// </list>
/// What it leaves out: retries (a failure is answered 502 at once), chunked answers, bodies in requests, a caller's
/// <c>Connection: close</c> (the connection is kept), the problem documents' JSON, the request log, spans. A benchmark reference to size a forwarding core below
/// <c>HttpContext</c>, NOT a proxy to use.
/// </summary>
internal sealed class CoreMode
{
    private const int MaxFields = 100;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly double[] Bounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Service[] services;
    private readonly byte[] via = Encoding.ASCII.GetBytes("1.1 sidecar-" + Guid.NewGuid().ToString("N")[..16]);
    private readonly long[] cells = new long[4 * 6];
    private readonly long[] histogram = new long[Bounds.Length + 1];
    private long budget;

    public CoreMode(IPEndPoint upstream)
    {
        // The service the bench calls (bench/bench.py's SERVICE) among others, as a registry holds several.
        services = [new("orders", new IPEndPoint(IPAddress.Loopback, 9)), new("billing", new IPEndPoint(IPAddress.Loopback, 9)), new("bench-upstream", upstream)];
    }

    private enum Refusal
    {
        None,
        BadRequest,
        NotFound,
        Forbidden,
        MethodNotAllowed,
        LoopDetected,
    }

    public async Task ServeAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        var remote = Encoding.ASCII.GetBytes((connection.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "unknown");
        var fields = new Field[MaxFields];
        var scratch = new byte[16 * 1024];
        var aborted = connection.ConnectionClosed;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync();
                var buffer = result.Buffer;
                if (Bench.Http.HeadEnd(buffer) is not { } position)
                {
                    if (result.IsCompleted || buffer.Length >= scratch.Length) return;
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }

                var head = Contiguous(buffer.Slice(0, position), scratch);
                var request = Parse(head.Span, fields, out var count);
                var refusal = request.Valid ? Route(head.Span, ref request, fields.AsSpan(0, count)) : Refusal.BadRequest;
                if (refusal != Refusal.None)
                {
                    input.AdvanceTo(position);
                    WriteRefusal(output, refusal);
                    await output.FlushAsync();
                    if (refusal == Refusal.BadRequest) return;
                    continue;
                }

                var started = Stopwatch.GetTimestamp();
                var service = services[request.Service];
                var instance = service.Pick(started);
                if (instance is null)
                {
                    input.AdvanceTo(position);
                    WriteStatus(output, 503, "Service Unavailable");
                    await output.FlushAsync();
                    continue;
                }

                Interlocked.Increment(ref budget);
                var deadline = service.RentDeadline();
                var registration = aborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), deadline);
                Upstream? upstream = null;
                var status = 502;
                var answered = false;
                try
                {
                    upstream = instance.Rent();
                    var reused = upstream is not null;
                    upstream ??= await instance.ConnectAsync(deadline.Token);
                    var length = WriteUpstreamHead(upstream.Buffer, head.Span, request, fields.AsSpan(0, count), instance, remote);
                    input.AdvanceTo(position); // the caller's head is in the upstream's buffer now

                    var (headLength, read) = await ExchangeAsync(upstream, length, deadline.Token);
                    if (headLength < 0 && reused)
                    {
                        // A pooled connection the instance closed while it was idle, before any byte of an answer: a new one.
                        var fresh = await instance.ConnectAsync(deadline.Token);
                        upstream.Buffer.AsSpan(0, length).CopyTo(fresh.Buffer);
                        upstream.Socket.Dispose();
                        upstream = fresh;
                        (headLength, read) = await ExchangeAsync(upstream, length, deadline.Token);
                    }

                    if (headLength < 0) throw new IOException("the instance closed the connection");
                    var answer = ParseAnswer(upstream.Buffer.AsSpan(0, headLength), fields, out var answerFields);
                    if (!answer.Valid || answer.ContentLength < 0 || read - headLength > answer.ContentLength)
                    {
                        throw new IOException("an answer out of this reference's scope");
                    }

                    status = answer.Status;
                    if (status >= 500) instance.Failed(started);
                    else instance.Succeeded();

                    WriteAnswerHead(output, upstream.Buffer.AsSpan(0, headLength), answer, fields.AsSpan(0, answerFields));
                    answered = true;
                    output.Write(upstream.Buffer.AsSpan(headLength, read - headLength));
                    for (var remaining = answer.ContentLength - (read - headLength); remaining > 0;)
                    {
                        var memory = output.GetMemory();
                        var n = await upstream.Socket.ReceiveAsync(memory[..(int)Math.Min(memory.Length, remaining)], SocketFlags.None, deadline.Token);
                        if (n == 0) throw new IOException("the answer ended early");
                        output.Advance(n);
                        remaining -= n;
                        if (remaining > 0) await output.FlushAsync(deadline.Token);
                    }

                    if (answer.KeepAlive) instance.Return(upstream);
                    else upstream.Socket.Dispose();
                    upstream = null;
                    await output.FlushAsync();
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
                {
                    upstream?.Socket.Dispose();
                    if (aborted.IsCancellationRequested) return;
                    instance.Failed(started);
                    if (answered) return; // a half answer: the connection closes short of its Content-Length
                    WriteStatus(output, 502, "Bad Gateway");
                    await output.FlushAsync();
                    return;
                }
                finally
                {
                    registration.Dispose();
                    service.ReturnDeadline(deadline);
                    Count(request.MethodClass, status, Stopwatch.GetTimestamp() - started);
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ConnectionResetException)
        {
            // The caller went away.
        }
    }


    /// <summary>The head in one piece: the pipe's segment, or a copy in <paramref name="scratch"/> (empty when too long: then refused).</summary>
    private static ReadOnlyMemory<byte> Contiguous(ReadOnlySequence<byte> head, byte[] scratch)
    {
        if (head.IsSingleSegment) return head.First;
        if (head.Length > scratch.Length) return default;
        head.CopyTo(scratch);
        return scratch.AsMemory(0, (int)head.Length);
    }

    /// <summary>The request line and fields, checked as Kestrel's parser and the agent check them.</summary>
    private static Request Parse(ReadOnlySpan<byte> head, Field[] fields, out int count)
    {
        count = 0;
        var request = new Request { Host = -1, Connection = -1 };
        var end = head.IndexOf("\r\n"u8);
        if (end <= 0) return request;
        var line = head[..end];
        var space = line.IndexOf((byte)' ');
        var last = line.LastIndexOf((byte)' ');
        if (space <= 0 || last <= space + 1 || !line[(last + 1)..].SequenceEqual("HTTP/1.1"u8) || line[..space].IndexOfAnyExcept(Token) >= 0) return request;
        if (line[(space + 1)..last].IndexOfAnyExcept(TargetCharacters) >= 0) return request;
        request.MethodEnd = space;
        request.TargetStart = space + 1;
        request.TargetEnd = last;
        request.MethodClass = line[..space] switch
        {
            var m when m.SequenceEqual("GET"u8) || m.SequenceEqual("HEAD"u8) => 0,
            var m when m.SequenceEqual("POST"u8) => 1,
            var m when m.SequenceEqual("PUT"u8) || m.SequenceEqual("PATCH"u8) || m.SequenceEqual("DELETE"u8) => 2,
            _ => 3,
        };

        var at = end + 2;
        var hosts = 0;
        while (true)
        {
            end = head[at..].IndexOf("\r\n"u8);
            if (end < 0) return request;
            if (end == 0) break;
            if (count == MaxFields || !TryReadField(head, at, end, out var field)) return request;
            fields[count++] = field;
            switch (field.Kind)
            {
                case FieldKind.Host: hosts++; request.Host = count - 1; break;
                case FieldKind.ContentLength or FieldKind.TransferEncoding or FieldKind.Upgrade or FieldKind.Expect: return request; // bodies and upgrades: another path's
                case FieldKind.Connection: request.Connection = count - 1; break;
                case FieldKind.Browser or FieldKind.Via or FieldKind.TraceParent: request.Seen |= 1 << (int)field.Kind; break;
            }

            at += end + 2;
        }

        request.Valid = hosts == 1;
        return request;
    }

    /// <summary>
    /// The field line at <paramref name="at"/> (<paramref name="length"/> bytes, its CRLF left out), the request's or the
    /// answer's: a token name, a colon, a value without control characters; false for anything else.
    /// </summary>
    private static bool TryReadField(ReadOnlySpan<byte> head, int at, int length, out Field field)
    {
        field = default;
        var line = head.Slice(at, length);
        var colon = line.IndexOf((byte)':');
        if (colon <= 0 || line[..colon].IndexOfAnyExcept(Token) >= 0) return false;
        var raw = line[(colon + 1)..];
        var value = raw.Trim(" \t"u8);
        if (value.IndexOfAny(Controls) >= 0) return false;
        field = new Field(at, colon, at + colon + 1 + Math.Max(raw.IndexOfAnyExcept(" \t"u8), 0), value.Length, Kind(line[..colon]));
        return true;
    }

    /// <summary>The service and the path of <c>/v1/invoke/{service}/{path}</c>, and the agent's refusals of a call.</summary>
    private Refusal Route(ReadOnlySpan<byte> head, ref Request request, ReadOnlySpan<Field> fields)
    {
        if ((request.Seen & (1 << (int)FieldKind.Browser)) != 0) return Refusal.Forbidden;
        var method = head[..request.MethodEnd];
        if (method.SequenceEqual("TRACE"u8) || method.SequenceEqual("CONNECT"u8)) return Refusal.MethodNotAllowed;
        var target = head[request.TargetStart..request.TargetEnd];
        var prefix = "/v1/invoke/"u8;
        if (!target.StartsWith(prefix)) return Refusal.NotFound;
        var rest = target[prefix.Length..];
        var slash = rest.IndexOf((byte)'/');
        var name = slash < 0 ? rest : rest[..slash];
        request.Service = -1;
        for (var i = 0; i < services.Length; i++)
        {
            if (Ascii.EqualsIgnoreCase(name, services[i].Name)) request.Service = i;
        }

        if (request.Service < 0) return Refusal.NotFound;
        request.PathStart = slash < 0 ? request.TargetEnd : request.TargetStart + prefix.Length + slash;
        var path = head[request.PathStart..request.TargetEnd];
        var query = path.IndexOf((byte)'?');
        if (query >= 0) path = path[..query];
        if (path.IndexOf((byte)'\\') >= 0 || path.IndexOf("/."u8) >= 0 || path.IndexOf("%2"u8) >= 0) return Refusal.BadRequest;
        if ((request.Seen & (1 << (int)FieldKind.Via)) != 0)
        {
            foreach (var field in fields)
            {
                if (field.Kind == FieldKind.Via && head.Slice(field.ValueStart, field.ValueLength).IndexOf(via.AsSpan(4)) >= 0) return Refusal.LoopDetected;
            }
        }

        return Refusal.None;
    }

    /// <summary>The head the instance gets, with the proxy's rules, into <paramref name="buffer"/>; its length.</summary>
    private int WriteUpstreamHead(byte[] buffer, ReadOnlySpan<byte> head, Request request, ReadOnlySpan<Field> fields, Instance instance, byte[] remote)
    {
        var writer = new Writer(buffer);
        writer.Put(head[..(request.MethodEnd + 1)]);
        if (request.PathStart == request.TargetEnd) writer.Put("/"u8);
        else writer.Put(head[request.PathStart..request.TargetEnd]);
        writer.Put(" HTTP/1.1\r\nHost: "u8);
        writer.Put(instance.Authority);
        writer.Put("\r\n"u8);
        var connection = request.Connection >= 0
            ? head.Slice(fields[request.Connection].ValueStart, fields[request.Connection].ValueLength)
            : default;
        ReadOnlySpan<byte> forwardedFor = default;
        foreach (var field in fields)
        {
            if (field.Kind is FieldKind.Host or FieldKind.HopByHop or FieldKind.Connection) continue;
            var name = head.Slice(field.NameStart, field.NameLength);
            if (!connection.IsEmpty && NamedBy(connection, name)) continue;
            var value = head.Slice(field.ValueStart, field.ValueLength);
            if (field.Kind == FieldKind.ForwardedFor)
            {
                forwardedFor = value;
                continue;
            }

            writer.Put(name);
            writer.Put(": "u8);
            writer.Put(value);
            writer.Put("\r\n"u8);
        }

        writer.Put("X-Forwarded-For: "u8);
        if (!forwardedFor.IsEmpty)
        {
            writer.Put(forwardedFor);
            writer.Put(", "u8);
        }

        writer.Put(remote);
        writer.Put("\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: "u8);
        writer.Put(head.Slice(fields[request.Host].ValueStart, fields[request.Host].ValueLength));
        writer.Put("\r\nVia: "u8);
        writer.Put(via);
        if ((request.Seen & (1 << (int)FieldKind.TraceParent)) == 0)
        {
            // A new trace, as the agent starts one for a caller that sent none: 16 and 8 random bytes in hex.
            Span<byte> ids = stackalloc byte[24];
            Random.Shared.NextBytes(ids);
            writer.Put("\r\ntraceparent: 00-"u8);
            writer.Hex(ids[..16]);
            writer.Put("-"u8);
            writer.Hex(ids[16..]);
            writer.Put("-00"u8);
        }

        writer.Put("\r\n\r\n"u8);
        return writer.Length;
    }

    private static async Task<(int Head, int Read)> ExchangeAsync(Upstream upstream, int length, CancellationToken token)
    {
        var buffer = upstream.Buffer;
        var read = 0;
        try
        {
            await upstream.Socket.SendAsync(buffer.AsMemory(0, length), SocketFlags.None, token);
            int head;
            while ((head = Bench.Http.HeadLength(buffer.AsSpan(0, read))) < 0)
            {
                var n = read < buffer.Length ? await upstream.Socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, token) : 0;
                if (n == 0) return read == 0 ? (-1, 0) : throw new IOException("the instance closed the connection");
                read += n;
            }

            return (head, read);
        }
        catch (SocketException) when (read == 0)
        {
            return (-1, 0);
        }
    }

    /// <summary>The answer's status line and fields, strictly: a status of three digits, token names, values without controls, one Content-Length.</summary>
    private static Answer ParseAnswer(ReadOnlySpan<byte> head, Field[] fields, out int count)
    {
        count = 0;
        var answer = new Answer { ContentLength = -1, KeepAlive = true };
        var end = head.IndexOf("\r\n"u8);
        if (end < 12 || !head.StartsWith("HTTP/1."u8) || head[8] != ' ' || !Utf8Parser.TryParse(head.Slice(9, 3), out int status, out var digits) || digits != 3 || status < 200) return answer;
        answer.Status = status;
        answer.ReasonEnd = end;
        var at = end + 2;
        while ((end = head[at..].IndexOf("\r\n"u8)) > 0)
        {
            if (count == MaxFields || !TryReadField(head, at, end, out var field)) return answer;
            var value = head.Slice(field.ValueStart, field.ValueLength);
            var kind = field.Kind;
            if (kind == FieldKind.ContentLength)
            {
                if (answer.ContentLength >= 0 || !Utf8Parser.TryParse(value, out long length, out var used) || used != value.Length) return answer;
                answer.ContentLength = length;
            }
            else if (kind == FieldKind.TransferEncoding)
            {
                return answer; // chunked: out of this reference's scope
            }
            else if (kind == FieldKind.Connection && Ascii.EqualsIgnoreCase(value, "close"u8))
            {
                answer.KeepAlive = false;
            }

            fields[count++] = field;
            at += end + 2;
        }

        answer.Valid = end == 0;
        return answer;
    }

    private static void WriteAnswerHead(PipeWriter output, ReadOnlySpan<byte> head, Answer answer, ReadOnlySpan<Field> fields)
    {
        var span = output.GetSpan(head.Length + 64);
        var writer = new SpanWriter(span);
        writer.Put("HTTP/1.1 "u8);
        writer.Put(head[9..answer.ReasonEnd]);
        writer.Put("\r\n"u8);
        foreach (var field in fields)
        {
            if (field.Kind is FieldKind.HopByHop or FieldKind.Connection or FieldKind.ContentLength) continue;
            writer.Put(head.Slice(field.NameStart, field.NameLength));
            writer.Put(": "u8);
            writer.Put(head.Slice(field.ValueStart, field.ValueLength));
            writer.Put("\r\n"u8);
        }

        writer.Put("Content-Length: "u8);
        writer.Number(answer.ContentLength);
        writer.Put("\r\n\r\n"u8);
        output.Advance(writer.Length);
    }

    private static void WriteStatus(PipeWriter output, int status, string reason)
    {
        var text = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nX-Sidecar-Error: refused\r\n\r\n");
        output.Write(text);
    }

    private static void WriteRefusal(PipeWriter output, Refusal refusal)
    {
        var (status, reason) = refusal switch
        {
            Refusal.NotFound => (404, "Not Found"),
            Refusal.Forbidden => (403, "Forbidden"),
            Refusal.MethodNotAllowed => (405, "Method Not Allowed"),
            Refusal.LoopDetected => (508, "Loop Detected"),
            _ => (400, "Bad Request"),
        };
        WriteStatus(output, status, reason);
    }

    private void Count(int methodClass, int status, long elapsed)
    {
        Interlocked.Increment(ref cells[methodClass * 6 + Math.Clamp(status / 100, 0, 5)]);
        var seconds = elapsed / (double)Stopwatch.Frequency;
        var bucket = Array.BinarySearch(Bounds, seconds);
        Interlocked.Increment(ref histogram[bucket < 0 ? ~bucket : bucket]);
    }

    private static bool NamedBy(ReadOnlySpan<byte> connection, ReadOnlySpan<byte> name)
    {
        foreach (var range in connection.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(connection[range].Trim(" \t"u8), name)) return true;
        }

        return false;
    }

    private static FieldKind Kind(ReadOnlySpan<byte> name) => name.Length switch
    {
        2 when Ascii.EqualsIgnoreCase(name, "TE"u8) => FieldKind.HopByHop,
        3 when Ascii.EqualsIgnoreCase(name, "Via"u8) => FieldKind.Via,
        4 when Ascii.EqualsIgnoreCase(name, "Host"u8) => FieldKind.Host,
        6 when Ascii.EqualsIgnoreCase(name, "Expect"u8) => FieldKind.Expect,
        6 when Ascii.EqualsIgnoreCase(name, "Origin"u8) => FieldKind.Browser,
        7 when Ascii.EqualsIgnoreCase(name, "Upgrade"u8) => FieldKind.Upgrade,
        7 when Ascii.EqualsIgnoreCase(name, "Trailer"u8) => FieldKind.HopByHop,
        10 when Ascii.EqualsIgnoreCase(name, "Connection"u8) => FieldKind.Connection,
        10 when Ascii.EqualsIgnoreCase(name, "Keep-Alive"u8) => FieldKind.HopByHop,
        11 when Ascii.EqualsIgnoreCase(name, "traceparent"u8) => FieldKind.TraceParent,
        14 when Ascii.EqualsIgnoreCase(name, "Content-Length"u8) => FieldKind.ContentLength,
        14 when Ascii.EqualsIgnoreCase(name, "Sec-Fetch-Site"u8) => FieldKind.Browser,
        15 when Ascii.EqualsIgnoreCase(name, "X-Forwarded-For"u8) => FieldKind.ForwardedFor,
        17 when Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8) => FieldKind.TransferEncoding,
        _ when name.Length > 6 && Ascii.EqualsIgnoreCase(name[..6], "Proxy-"u8) => FieldKind.HopByHop,
        _ => FieldKind.Other,
    };

    private static readonly SearchValues<byte> Token = SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);
    private static readonly SearchValues<byte> TargetCharacters = SearchValues.Create("!$&'()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~%"u8);
    private static readonly SearchValues<byte> Controls = SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000a\u000b\u000c\u000d\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\u007f"u8);

    private enum FieldKind
    {
        Other,
        Host,
        HopByHop,
        Connection,
        ContentLength,
        TransferEncoding,
        Upgrade,
        Expect,
        Browser,
        Via,
        TraceParent,
        ForwardedFor,
    }

    private record struct Field(int NameStart, int NameLength, int ValueStart, int ValueLength, FieldKind Kind);

    private struct Request
    {
        public bool Valid;
        public int MethodEnd, TargetStart, TargetEnd, PathStart, MethodClass, Service, Seen;
        public int Host, Connection;
    }

    private struct Answer
    {
        public bool Valid, KeepAlive;
        public int Status, ReasonEnd;
        public long ContentLength;
    }

    private ref struct SpanWriter(Span<byte> span)
    {
        private readonly Span<byte> span = span;

        public int Length { get; private set; }

        public void Put(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(span[Length..]);
            Length += bytes.Length;
        }

        public void Number(long value)
        {
            Utf8Formatter.TryFormat(value, span[Length..], out var written);
            Length += written;
        }
    }

    private struct Writer(byte[] buffer)
    {
        public int Length { get; private set; }

        public void Put(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(buffer.AsSpan(Length));
            Length += bytes.Length;
        }

        public void Hex(ReadOnlySpan<byte> bytes)
        {
            Convert.TryToHexStringLower(bytes, buffer.AsSpan(Length), out var written);
            Length += written;
        }
    }

    private sealed class Service(string name, IPEndPoint address)
    {
        private readonly Stack<CancellationTokenSource> deadlines = new();
        private readonly Instance[] instances = [new(address)];
        private int next;

        public byte[] Name { get; } = Encoding.ASCII.GetBytes(name);

        /// <summary>Round-robin among the instances not ejected (the failures of a row eject one for 30 s).</summary>
        public Instance? Pick(long now)
        {
            for (var i = 0; i < instances.Length; i++)
            {
                var instance = instances[(int)((uint)Interlocked.Increment(ref next) % instances.Length)];
                if (instance.EjectedUntil <= now) return instance;
            }

            return null;
        }

        public CancellationTokenSource RentDeadline()
        {
            CancellationTokenSource? source;
            lock (deadlines)
            {
                deadlines.TryPop(out source);
            }

            source ??= new CancellationTokenSource();
            source.CancelAfter(Deadline);
            return source;
        }

        public void ReturnDeadline(CancellationTokenSource source)
        {
            if (!source.TryReset()) return;
            lock (deadlines)
            {
                deadlines.Push(source);
            }
        }
    }

    private sealed class Instance(IPEndPoint address)
    {
        private readonly Stack<Upstream> idle = new();
        private int failures;

        public byte[] Authority { get; } = Encoding.ASCII.GetBytes(address.ToString());

        public long EjectedUntil { get; private set; }

        public Upstream? Rent()
        {
            lock (idle)
            {
                return idle.TryPop(out var upstream) ? upstream : null;
            }
        }

        public void Return(Upstream upstream)
        {
            lock (idle)
            {
                idle.Push(upstream);
            }
        }

        public async Task<Upstream> ConnectAsync(CancellationToken token)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(address, token);
                return new Upstream(socket);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        public void Failed(long now)
        {
            if (Interlocked.Increment(ref failures) >= 5)
            {
                EjectedUntil = now + 30 * Stopwatch.Frequency;
                failures = 0;
            }
        }

        public void Succeeded()
        {
            if (failures != 0) failures = 0;
        }
    }

    private sealed class Upstream(Socket socket)
    {
        public Socket Socket { get; } = socket;

        /// <summary>The request head going out, then the answer coming in (one exchange at a time).</summary>
        public byte[] Buffer { get; } = new byte[16 * 1024];
    }
}

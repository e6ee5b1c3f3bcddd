using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Sidecar.Forwarding;
using Sidecar.Forwarding.Http1;
using Sidecar.Observability;
using Sidecar.Platform;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The lean path's head written straight from the caller's headers (<see cref="ForwardedHead"/>) against the
/// head the same rules wrote before, through an <see cref="HttpRequestMessage"/> (<see cref="ProxyHeaders.CopyRequestHeaders(HttpContext, HttpRequestMessage, ForwardedValues)"/>
/// and <see cref="RequestHeadWriter"/>): the same request line, the same set of header lines (names
/// compared without case, order aside: docs/performance.md#the-request-head-from-kestrels-headers), the same
/// framing; and the headers a request copies when it goes to SocketsHttpHandler after all are the same as well.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ForwardedHeadTests
{
    internal const string Via = "1.1 sidecar-0123456789abcdef";
    internal const string TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    private static readonly byte[] HostLine = Encoding.ASCII.GetBytes("Host: orders:8080\r\n");

    public static TheoryData<string, string, string, string, string> Cases() => new()
    {
        // name, method, body ("" none, "length", "chunked"), OTEL_PROPAGATORS, the caller's headers ("Name: v1 | v2" per line, "|" between values)
        { "plain get", "GET", "", "tracecontext", "Accept: */*\nUser-Agent: curl/8.0\nX-Request-ID: 42" },
        { "two values of one name", "GET", "", "tracecontext", "X-A: 1 | 2\nUser-Agent: a/1 | b/2\nCookie: a=1 | b=2\nAccept: text/html | application/json\nServer: s1 | s2" },
        { "connection names a header", "GET", "", "tracecontext", "Connection: keep-alive, X-Secret\nX-Secret: s\nKeep-Alive: 5\nTE: trailers\nProxy-Authorization: Basic x\nTrailer: X-T\nX-Kept: k" },
        { "client addresses not sent", "GET", "", "tracecontext", "X-A: 1" },
        { "client addresses sent", "GET", "", "tracecontext", "Forwarded: for=10.0.0.1 | for=10.0.0.2\nX-Real-IP: 6.6.6.6\nX-Forwarded-For: 10.0.0.1\nX-Forwarded-Proto: https\nX-Forwarded-Host: evil\nVia: 1.0 fred\nHost: orders.example" },
        { "traceparent, w3c", "GET", "", "tracecontext", $"traceparent: {TraceParent}\ntracestate: a=1\nbaggage: k=v" },
        { "traceparent, b3 single", "GET", "", "b3", $"traceparent: {TraceParent}\nb3: 0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1" },
        { "b3 multi in, all formats out", "GET", "", "tracecontext,b3,b3multi,baggage", "X-B3-TraceId: 0af7651916cd43dd\nX-B3-SpanId: b7ad6b7169203331\nX-B3-Sampled: 0\nbaggage: k=v" },
        { "no caller trace, b3 deferred", "GET", "", "b3,b3multi", "X-A: 1" },
        { "propagation off", "GET", "", "none", $"traceparent: {TraceParent}\nb3: 1" },
        { "a body with length", "POST", "length", "tracecontext", "Content-Type: text/plain\nContent-Length: 3\nExpect: 100-continue\nContent-Language: en | fr\nExpires: 0" },
        { "chunked", "PUT", "chunked", "tracecontext", "Transfer-Encoding: chunked\nContent-Type: application/json\nContent-Encoding: gzip" },
        { "post without body", "POST", "", "tracecontext", "Content-Type: text/plain\nLast-Modified: x\nAllow: GET" },
        { "content headers without content", "GET", "", "tracecontext", "Content-Type: text/plain\nContent-Disposition: inline\nContent-MD5: x" },
        { "odd values and names", "DELETE", "", "tracecontext", "X-Empty: \nX-Latin: caf\u00e9\nX-Tab: a\tb\nBad Name: x\nx-lower: y" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheDirectHead_IsTheHeadTheMessageGave(string name, string method, string body, string propagators, string callerHeaders)
    {
        var context = Caller(method, callerHeaders);
        var forwarded = ProxyHeaders.ForwardedValues(context, Via, null, Formats(propagators));

        var before = WriteThroughMessage(context, forwarded, method, body, null, out var beforeFraming);
        var after = WriteDirect(context, forwarded, method, body, null, out var afterFraming);

        Assert.Equal(beforeFraming, afterFraming);
        Assert.Equal(RequestLine(before), RequestLine(after));
        Assert.True(Lines(before).SequenceEqual(Lines(after)), $"{name}:\nbefore:\n{before}\nafter:\n{after}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ARequestThatGoesElsewhere_CopiesTheSameHeaders(string name, string method, string body, string propagators, string callerHeaders)
    {
        var context = Caller(method, callerHeaders);
        var forwarded = ProxyHeaders.ForwardedValues(context, Via, null, Formats(propagators));
        using var message = Request(method, body);
        ProxyHeaders.CopyRequestHeaders(context, message, forwarded);
        ProxyHeaders.InjectTrace(message, forwarded, null);
        using var aimed = Request(method, body);
        aimed.Aim(new Http1Origin("http://orders:8080"), "/a?b=c", new ForwardedHead(new CallerFields(context.Request.Headers), forwarded, null));

        aimed.MakeAbsolute(); // what LeanHttp1Handler does before passing a request to SocketsHttpHandler

        Assert.Null(aimed.Head);
        Assert.Equal("http://orders:8080/a?b=c", aimed.RequestUri?.OriginalString);
        Assert.True(Set(message).SequenceEqual(Set(aimed)), $"{name}: {string.Join("; ", Set(message))} / {string.Join("; ", Set(aimed))}");
    }

    [Fact]
    public void AnAttemptsSpan_IsTheParentInBothHeads()
    {
        var context = Caller("GET", $"traceparent: {TraceParent}");
        var forwarded = ProxyHeaders.ForwardedValues(context, Via, null, Propagators.TraceContext | Propagators.B3);
        using var attempt = new Activity("attempt").SetIdFormat(ActivityIdFormat.W3C).SetParentId(TraceParent).Start();
        attempt.TraceStateString = "x=1";

        var before = WriteThroughMessage(context, forwarded, "GET", "", attempt, out _);
        var after = WriteDirect(context, forwarded, "GET", "", attempt, out _);

        Assert.Contains($"traceparent: {attempt.Id}\r\n", after, StringComparison.Ordinal);
        Assert.Contains("tracestate: x=1\r\n", after, StringComparison.Ordinal);
        Assert.True(Lines(before).SequenceEqual(Lines(after)), $"before:\n{before}\nafter:\n{after}");
    }

    [Fact]
    public void ALineBreakInAValue_IsRefusedByTheDirectHead()
    {
        var context = Caller("GET", "X-A: 1");
        context.Request.Headers["X-B"] = new[] { "ok", "a\r\nX-Injected: 1" };
        var forwarded = ProxyHeaders.ForwardedValues(context, Via);

        Assert.Equal(("X-B", '\r'), ProxyHeaders.FindControlCharacter(context));
        Assert.Throws<HttpRequestException>(() => WriteDirect(context, forwarded, "GET", "", null, out _));
    }

    [Fact]
    public void TheCheckOnlyPass_SkipsWhatIsNotForwarded()
    {
        var context = Caller("GET", "Connection: X-Dropped\nX-Dropped: a\u0001b\nKeep-Alive: a\u0002b");

        Assert.Null(ProxyHeaders.FindControlCharacter(context));

        context.Request.Headers["X-Kept"] = "a\u007fb";
        Assert.Equal(("X-Kept", '\u007f'), ProxyHeaders.FindControlCharacter(context));
    }

    [Fact]
    public void AnAimedRequestWithAHead_IsTheLeanClientsWithoutItsHeadersCollection()
    {
        var context = Caller("GET", "X-A: 1");
        using var request = Request("GET", "");
        request.Aim(new Http1Origin("http://orders:8080"), "/", new ForwardedHead(new CallerFields(context.Request.Headers), ProxyHeaders.ForwardedValues(context, Via), null));

        Assert.True(LeanHttp1Handler.Takes(request));
        Assert.Empty(request.Headers.NonValidated);
    }

    public static TheoryData<string, string, string?, bool> NextCalls() => new()
    {
        // the next call on the connection: its caller's headers, its Host (null: none), whether the last call's lines are taken again
        { "the same", "Accept: */*", "127.0.0.1:8078", true },
        { "other fields only", "X-A: 2\ntraceparent: " + TraceParent, "127.0.0.1:8078", true },
        { "another Host", "Accept: */*", "localhost:8078", false },
        { "no Host", "Accept: */*", null, false },
        { "an X-Forwarded-For", "X-Forwarded-For: 10.0.0.1", "127.0.0.1:8078", false },
        { "a Via", "Via: 1.0 edge", "127.0.0.1:8078", false },
        { "a Host that differs in case", "Accept: */*", "LOCALHOST:8078", false },
    };

    [Theory]
    [MemberData(nameof(NextCalls))]
    public void TheLastCallsAddedLines_AreTakenAgain_OnlyForTheSameValues(string name, string headers, string? host, bool same)
    {
        var first = Caller("GET", "Accept: */*");
        var last = ProxyHeaders.ForwardedValues(first, Via, null, Propagators.None); // no new trace: the two heads below are comparable
        WriteDirect(first, last, "GET", "", null, out _); // the lines are made once written
        Assert.NotNull(last.Lines.Encoded);
        var next = Caller("GET", headers);
        next.Request.Host = host is null ? default : new HostString(host);

        var taken = ProxyHeaders.ForwardedValues(next, Via, null, Propagators.None, last.Lines);
        var fresh = ProxyHeaders.ForwardedValues(next, Via, null, Propagators.None);

        Assert.True(same == ReferenceEquals(last.Lines, taken.Lines), name);
        var written = WriteDirect(next, taken, "GET", "", null, out _);
        Assert.Equal(WriteThroughMessage(next, fresh, "GET", "", null, out _), written);
        Assert.Contains(host is null ? "" : $"\r\nX-Forwarded-Host: {host}\r\n", written, StringComparison.Ordinal);
        Assert.Equal(host is not null, written.Contains("X-Forwarded-Host", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("tracecontext", true)]
    [InlineData("tracecontext,baggage", true)]
    [InlineData("b3", false)]
    [InlineData("baggage", false)]
    public void ANewTrace_IsWrittenAsTheValueItsIdsMake(string propagators, bool w3c)
    {
        var context = Caller("GET", "X-A: 1");
        var forwarded = ProxyHeaders.ForwardedValues(context, Via, null, Formats(propagators));

        var head = WriteDirect(context, forwarded, "GET", "", null, out _);

        Assert.Equal(propagators != "baggage", forwarded.TraceCreated);
        Assert.Equal(w3c, head.Contains($"\r\ntraceparent: {forwarded.TraceParent}\r\n", StringComparison.Ordinal));
        Assert.Equal(w3c, head.Contains("traceparent", StringComparison.Ordinal));
        Assert.Equal(propagators == "b3", head.Contains($"\r\nb3: {forwarded.TraceParent?[3..35]}-{forwarded.TraceParent?[36..52]}\r\n", StringComparison.Ordinal));
    }

    [Fact]
    public void AnAddedValueWithALineBreak_IsRefusedAtEveryWrite()
    {
        var lines = new ForwardedLines("192.0.2.7", "http", "a\r\nX-Injected: 1", Via);

        for (var i = 0; i < 2; i++)
        {
            var output = new HeadBuffer(16);
            var target = new HeadLines(output, false);
            Assert.Throws<HttpRequestException>(() => target.AddForwarded(lines));
            Assert.Null(lines.Encoded);
        }
    }

    [Fact]
    public void TheAddedLines_AreTheFourFieldsInOrder()
    {
        var lines = new ForwardedLines("10.0.0.1, 192.0.2.7", "http", "orders.example", Via);
        var output = new HeadBuffer(16);
        var target = new HeadLines(output, false);

        target.AddForwarded(lines);
        target.AddForwarded(lines); // the second from the bytes made by the first

        var once = $"X-Forwarded-For: 10.0.0.1, 192.0.2.7\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: orders.example\r\nVia: {Via}\r\n";
        Assert.Equal(once + once, Encoding.Latin1.GetString(output.Written));
    }

    // OTEL_PROPAGATORS as the options read it (docs/observability.md).
    internal static Propagators Formats(string list) => list.Split(',').Aggregate(Propagators.None, (all, name) => all | name switch
    {
        "tracecontext" => Propagators.TraceContext,
        "baggage" => Propagators.Baggage,
        "b3" => Propagators.B3,
        "b3multi" => Propagators.B3Multi,
        _ => Propagators.None,
    });

    private static DefaultHttpContext Caller(string method, string headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("127.0.0.1:8078");
        context.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.7");
        foreach (var line in headers.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var values = line[(colon + 1)..].Split('|').Select(v => v.Trim(' ')).ToArray();
            context.Request.Headers[line[..colon]] = values;
        }

        return context;
    }

    private static OriginFormRequest Request(string method, string body)
    {
        var request = new OriginFormRequest(HttpMethod.Parse(method)) { Version = HttpVersion.Version11 };
        request.Content = body switch
        {
            "length" => new ByteArrayContent("abc"u8.ToArray()),
            "chunked" => new StreamContent(new UnknownLength()),
            _ => null,
        };
        return request;
    }

    private static string WriteThroughMessage(HttpContext context, ForwardedValues forwarded, string method, string body, Activity? attempt, out RequestFraming framing)
    {
        using var request = Request(method, body);
        Assert.Null(ProxyHeaders.CopyRequestHeaders(context, request, forwarded));
        request.Aim(new Http1Origin("http://orders:8080"), "/a?b=c");
        ProxyHeaders.InjectTrace(request, forwarded, attempt);
        return Write(request, out framing);
    }

    private static string WriteDirect(HttpContext context, ForwardedValues forwarded, string method, string body, Activity? attempt, out RequestFraming framing)
    {
        using var request = Request(method, body);
        request.Aim(new Http1Origin("http://orders:8080"), "/a?b=c", new ForwardedHead(new CallerFields(context.Request.Headers), forwarded, attempt));
        return Write(request, out framing);
    }

    private static string Write(HttpRequestMessage request, out RequestFraming framing)
    {
        var output = new HeadBuffer(16); // small: the buffer grows
        framing = RequestHeadWriter.Write(request, HostLine, output, out _, out var close);
        Assert.False(close);
        return Encoding.Latin1.GetString(output.Written);
    }

    private static string RequestLine(string head) => head[..head.IndexOf("\r\n", StringComparison.Ordinal)];

    // The header lines, names without case, sorted: the set the instance reads.
    private static List<string> Lines(string head) =>
        [.. head.Split("\r\n").Skip(1).Where(l => l.Length > 0)
            .Select(l => l[..l.IndexOf(':', StringComparison.Ordinal)].ToLowerInvariant() + l[l.IndexOf(':', StringComparison.Ordinal)..])
            .Order(StringComparer.Ordinal)];

    private static List<string> Set(HttpRequestMessage request) =>
        [.. request.Headers.NonValidated.Concat(request.Content?.Headers.NonValidated ?? Enumerable.Empty<KeyValuePair<string, System.Net.Http.Headers.HeaderStringValues>>())
            .Select(h => h.Key.ToLowerInvariant() + ": " + h.Value.ToString())
            .Order(StringComparer.Ordinal)];

    private sealed class UnknownLength : MemoryStream
    {
        public override bool CanSeek => false;
    }
}

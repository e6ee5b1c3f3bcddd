using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Sidecar.Forwarding;
using Sidecar.Forwarding.Http1;
using Sidecar.Observability;
using Sidecar.Platform;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The forwarding rules read over the two field sources (docs/performance.md#the-exchange): Kestrel's collection,
/// and a request head's lines as they came (<see cref="HeadFields"/>). The same caller's fields, sent as lines
/// and as Kestrel would hold them (the values of lines of one name together), give the same call values, the
/// same refusal, and the same head to the instance: the same fields with the same values, where the head's
/// lines of one name stay lines of their own and Kestrel's values of one name are one line, joined as
/// <c>HttpHeaders</c> joins them.
/// </summary>
[Trait("Category", "Unit")]
public sealed class CallerFieldsTests
{
    private const string Via = ForwardedHeadTests.Via;
    private const string TraceParent = ForwardedHeadTests.TraceParent;
    private static readonly byte[] HostLine = Encoding.ASCII.GetBytes("Host: orders:8080\r\n");
    private static readonly IPAddress Remote = IPAddress.Parse("192.0.2.7");

    public static TheoryData<string, string, string, string> Cases() => new()
    {
        // name, OTEL_PROPAGATORS, "length" for a body or "", the caller's field lines ("\n" between lines)
        { "plain get", "tracecontext", "", "Accept: */*\nUser-Agent: curl/8.0\nX-Request-ID: 42" },
        { "lines of one name", "tracecontext", "", "X-A: 1\nUser-Agent: a/1\nX-A: 2\nCookie: a=1\nCookie: b=2\nUser-Agent: b/2\nAccept: text/html, application/json" },
        { "connection names fields", "tracecontext", "", "Connection: keep-alive, X-Secret\nX-Secret: s\nKeep-Alive: 5\nTE: trailers\nProxy-Authorization: Basic x\nTrailer: X-T\nUpgrade: websocket\nConnection: X-Other\nX-Other: o\nX-Kept: k" },
        { "connection entries with odd white space", "tracecontext", "", "Connection: \u000bX-Secret\u000c ,\t X-Two\nX-Secret: s\nX-Two: t\nX-Kept: k" },
        { "client addresses sent", "tracecontext", "", "Forwarded: for=10.0.0.1\nX-Real-IP: 6.6.6.6\nForwarded: for=10.0.0.2\nX-Forwarded-For: 10.0.0.1\nX-Forwarded-For: 10.0.0.3\nX-Forwarded-Proto: https\nX-Forwarded-Host: evil\nVia: 1.0 fred\nVia: 1.1 barney\nHost: orders.example\nExpect: 100-continue" },
        { "traceparent, w3c", "tracecontext", "", $"traceparent: {TraceParent}\ntracestate: a=1\ntracestate: b=2\nbaggage: k=v" },
        { "two traceparents", "tracecontext", "", $"traceparent: {TraceParent}\ntraceparent: {TraceParent}" },
        { "traceparent, b3 single", "b3", "", $"traceparent: {TraceParent}\nb3: 0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1" },
        { "b3 multi in, all formats out", "tracecontext,b3,b3multi,baggage", "", "X-B3-TraceId: 0af7651916cd43dd\nX-B3-SpanId: b7ad6b7169203331\nX-B3-Sampled: 0\nX-B3-Flags: 1\nbaggage: k=v" },
        { "propagation off", "none", "", $"traceparent: {TraceParent}\nb3: 1" },
        { "a body with length", "tracecontext", "length", "Content-Type: text/plain\nContent-Length: 3\nContent-Language: en\nContent-Language: fr\nExpires: 0" },
        { "content fields without content", "tracecontext", "", "Content-Type: text/plain\nContent-Disposition: inline\nLast-Modified: x\nAllow: GET" },
        { "odd values", "tracecontext", "", "X-Empty: \nX-Latin: caf\u00e9\nX-Tab: a\tb\nx-lower: y\nX-Spaces:   padded  \t" },
    };

    [Theory]
    [InlineData("value", "value", 0)]
    [InlineData(" nginx/1.22.1", "nginx/1.22.1", 1)]
    [InlineData("\t a b \t ", "a b", 2)]
    [InlineData("   ", "", 3)]
    [InlineData("", "", 0)]
    [InlineData("\u000bv\u000b", "\u000bv\u000b", 0)] // white space of other kinds is no OWS: kept, as MemoryExtensions.Trim(" \t") keeps it
    [InlineData("\u00a0v ", "\u00a0v", 0)]
    public void TrimOws_TakesOffSpacesAndTabsAroundAValue_AsTheGenericTrimDid(string text, string trimmed, int skipped)
    {
        var bytes = Encoding.Latin1.GetBytes(text);

        var value = FieldLists.TrimOws(bytes, out var from);

        Assert.Equal(trimmed, Encoding.Latin1.GetString(value));
        Assert.Equal(skipped, from);
        Assert.True(value.SequenceEqual(bytes.AsSpan().Trim(" \t"u8)), "the same bytes as MemoryExtensions.Trim with SP and HTAB");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheHeadsLines_GiveTheCallValuesAndTheHeadKestrelsCollectionGives(string name, string propagators, string body, string lines)
    {
        var (kestrel, head) = Both(lines);
        var formats = Formats(propagators);

        var fromKestrel = ProxyHeaders.ForwardedValues(kestrel, Remote, "http", "127.0.0.1:8078", Via, null, formats);
        var fromHead = ProxyHeaders.ForwardedValues(head, Remote, "http", "127.0.0.1:8078", Via, null, formats);
        Assert.Equal(fromKestrel.TraceCreated, fromHead.TraceCreated);
        Assert.Equal(fromKestrel with { TraceParent = null, NewTrace = null }, fromHead with { TraceParent = null, NewTrace = null });
        Assert.Equal(fromKestrel.TraceCreated, fromKestrel.NewTrace is not null);
        if (!fromKestrel.TraceCreated)
        {
            Assert.Equal(fromKestrel.TraceParent, fromHead.TraceParent);
        }

        Assert.Null(ProxyHeaders.FindControlCharacter(kestrel));
        Assert.Null(ProxyHeaders.FindControlCharacter(head));

        // The same call values for both heads: a created trace is random.
        var kestrelHead = WriteDirect(kestrel, fromKestrel, body);
        var headHead = WriteDirect(head, fromKestrel, body);
        Assert.True(Fields(kestrelHead).SequenceEqual(Fields(headHead)), $"{name}:\nKestrel's:\n{kestrelHead}\nthe head's:\n{headHead}");

        // A request that goes to SocketsHttpHandler after all copies the same headers into its collections.
        Assert.Equal(Copied(kestrel, fromKestrel, body), Copied(head, fromKestrel, body));
    }

    [Fact]
    public void TheHeadsLines_KeepTheirOrderAndTheirNumber()
    {
        var (_, head) = Both("X-A: 1\nUser-Agent: a/1\nX-A: 2");
        var forwarded = ProxyHeaders.ForwardedValues(head, Remote, "http", null, Via, null, Propagators.None);

        var written = WriteDirect(head, forwarded, "");

        Assert.Contains("X-A: 1\r\nUser-Agent: a/1\r\nX-A: 2\r\nX-Forwarded-For: 192.0.2.7\r\n", written, StringComparison.Ordinal);
        Assert.Equal(new[] { "1", "2" }, head["x-a"].ToArray());
    }

    [Theory]
    [InlineData("X-Kept: a\u007fb", "X-Kept", '\u007f')]
    [InlineData("Connection: X-Dropped\nX-Dropped: a\u0001b\nKeep-Alive: a\u0002b\nX-Forwarded-For: 1\u0003", "X-Forwarded-For", '\u0003')]
    [InlineData("Connection: X-Dropped\nX-Dropped: a\u0001b\nKeep-Alive: a\u0002b", null, '\0')]
    [InlineData("X-A: ok\nX-B: \u001b[31m", "X-B", '\u001b')]
    public void AControlCharacter_IsFoundInBoth(string lines, string? field, char character)
    {
        var (kestrel, head) = Both(lines);
        var expected = field is null ? ((string, char)?)null : (field, character);

        Assert.Equal(expected, ProxyHeaders.FindControlCharacter(kestrel));
        Assert.Equal(expected, ProxyHeaders.FindControlCharacter(head));
    }

    [Theory]
    [InlineData("X-A: 1\r\n", 1)]
    [InlineData("X-A: 1\r\n\r\n", 1)]
    [InlineData("", 0)]
    [InlineData("\r\n", 0)]
    [InlineData("X-A:\r\nX-B:  \t\r\n", 2)]
    [InlineData("X-A: \u00e9\u00ff\u0001\r\n", 1)]
    public void TheReader_TakesWhatKestrelTakes(string block, int count)
    {
        var head = new HeadFields();

        Assert.True(head.TryRead(Encoding.Latin1.GetBytes(block)));
        Assert.Equal(count, head.Count);
    }

    [Theory]
    [InlineData("X-A: 1\n")] // a bare LF
    [InlineData("X-A: 1")] // no line end
    [InlineData("X-A: 1\r\n b\r\n")] // a folded line
    [InlineData("X-A : 1\r\n")] // white space before the colon
    [InlineData("Bad Name: 1\r\n")]
    [InlineData(": 1\r\n")]
    [InlineData("X-A\r\n")]
    [InlineData("X-A: a\rb\r\n")]
    [InlineData("X-A: a\u0000b\r\n")]
    [InlineData("X-\u00e9: 1\r\n")]
    [InlineData("X-A: 1\r\n\r\nX-B: 2\r\n")] // something after the end of the head
    public void TheReader_RefusesWhatKestrelRefuses(string block)
    {
        var head = new HeadFields();
        Assert.True(head.TryRead("X-Before: 1\r\nConnection: x\r\n"u8));

        Assert.False(head.TryRead(Encoding.Latin1.GetBytes(block)));
        Assert.Equal(0, head.Count);
        Assert.False(head.HasConnection);
    }

    [Fact]
    public void TheReader_IsReadAgainForTheNextRequest()
    {
        var head = new HeadFields();
        var long_ = string.Concat(Enumerable.Range(0, 40).Select(i => $"X-Field-Number-{i}: {new string('v', 60)}\r\n"));

        Assert.True(head.TryRead(Encoding.ASCII.GetBytes(long_)));
        Assert.Equal(40, head.Count);
        Assert.True(head.TryRead("Connection: close\r\n"u8));

        Assert.Equal(1, head.Count);
        Assert.True(head.HasConnection);
        Assert.True(new CallerFields(head).ConnectionNames("CLOSE"));
        Assert.Equal(0, head.Values("X-Field-Number-0").Count);
    }

    [Fact]
    public void ANamesValues_AreFoundInAnyCasing_AndNoneComeForANameNoLineHas()
    {
        var head = new HeadFields();
        Assert.True(head.TryRead("VIA: 1.0 a\r\nx-forwarded-for: 10.0.0.1\r\nTraceParent: t\r\nX-A: 1\r\nx-a: 2\r\nZ: z\r\n"u8));

        foreach (var (name, values) in new[] { ("Via", "1.0 a"), ("X-Forwarded-For", "10.0.0.1"), ("traceparent", "t"), ("X-A", "1,2"), ("z", "z") })
        {
            foreach (var casing in new[] { name, name.ToUpperInvariant(), name.ToLowerInvariant() })
            {
                Assert.Equal(values, string.Join(',', head.Values(casing).ToArray()));
                Assert.True(head.Has(casing), casing);
            }
        }

        // Absent names, some of the same length or the same first and last letters as a name sent.
        foreach (var name in new[] { "Forwarded", "X-Real-IP", "tracestate", "X-B", "Vib", "X-Forwarded-Far", "", "ZZ" })
        {
            Assert.Equal(0, head.Values(name).Count);
            Assert.False(head.Has(name), name);
        }

        // A head read after it forgets its names.
        Assert.True(head.TryRead("Accept: */*\r\n"u8));
        Assert.Equal(0, head.Values("Via").Count);
        Assert.Equal("*/*", head.Values("ACCEPT").ToString());
    }

    [Fact]
    public async Task TheChecksBeforeACall_RefuseTheSameFromBoth()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = "orders=http://127.0.0.1:9", ["APP_HEALTH_URL"] = "" });
        var forwarder = agent.Get<Forwarder>();
        var pool = forwarder.Pools.Find("orders")!;
        var cases = new (string Method, string Target, string Lines, string? Code, TimeSpan? Requested)[]
        {
            ("GET", "/a", "X-A: 1", null, null),
            ("GET", "/a", "X-Request-Timeout: 2.5", null, TimeSpan.FromSeconds(2.5)),
            ("GET", "/a", "X-Request-Timeout: 500ms", null, TimeSpan.FromMilliseconds(500)),
            ("GET", "/a", "X-Request-Timeout: 1\nX-Request-Timeout: 2", ForwardingProblems.BadRequest, null),
            ("GET", "/a", "X-Request-Timeout: NaN", ForwardingProblems.BadRequest, null),
            ("GET", "/a", $"Via: 1.0 fred\nVia: {forwarder.Via}", ForwardingProblems.LoopDetected, null),
            ("GET", "/a", "Via: 1.0 fred, 1.1 sidecar-0000000000000000", null, null),
            ("TRACE", "/a", "X-A: 1", ForwardingProblems.MethodNotAllowed, null),
            ("GET", "/../b", "X-A: 1", ForwardingProblems.BadPath, null),
        };

        foreach (var (method, target, lines, code, requested) in cases)
        {
            var (kestrel, head) = Both(lines);
            foreach (var fields in new[] { kestrel, head })
            {
                var refused = forwarder.Check(pool, method, target, fields, out var asked);
                Assert.True(code == refused?.Code, $"{method} {target} {lines}: {refused?.Code ?? "no refusal"}");
                Assert.Equal(requested, asked);
            }
        }
    }

    [Theory]
    [InlineData("Connection", nameof(FieldKind.HopByHop))]
    [InlineData("proxy-authorization", nameof(FieldKind.HopByHop))]
    [InlineData("TRANSFER-ENCODING", nameof(FieldKind.HopByHop))]
    [InlineData("Keep-Alive", nameof(FieldKind.HopByHop))]
    [InlineData("te", nameof(FieldKind.HopByHop))]
    [InlineData("Trailer", nameof(FieldKind.HopByHop))]
    [InlineData("Upgrade", nameof(FieldKind.HopByHop))]
    [InlineData("Host", nameof(FieldKind.Replaced))]
    [InlineData(":authority", nameof(FieldKind.Replaced))]
    [InlineData("", nameof(FieldKind.Replaced))]
    [InlineData("content-length", nameof(FieldKind.Replaced))]
    [InlineData("Expect", nameof(FieldKind.Replaced))]
    [InlineData("x-forwarded-for", nameof(FieldKind.Replaced))]
    [InlineData("X-Forwarded-Proto", nameof(FieldKind.Replaced))]
    [InlineData("X-Forwarded-Host", nameof(FieldKind.Replaced))]
    [InlineData("VIA", nameof(FieldKind.Replaced))]
    [InlineData("Forwarded", nameof(FieldKind.Forwarded))]
    [InlineData("x-real-ip", nameof(FieldKind.RealIp))]
    [InlineData("Traceparent", nameof(FieldKind.TraceContext))]
    [InlineData("tracestate", nameof(FieldKind.TraceContext))]
    [InlineData("B3", nameof(FieldKind.B3))]
    [InlineData("x-b3-traceid", nameof(FieldKind.B3))]
    [InlineData("X-Forwarded-Port", nameof(FieldKind.Other))]
    [InlineData("Content-Type", nameof(FieldKind.Other))]
    [InlineData("Proxy", nameof(FieldKind.Other))]
    [InlineData("TEE", nameof(FieldKind.Other))]
    [InlineData("Connections", nameof(FieldKind.Other))]
    [InlineData("baggage", nameof(FieldKind.Other))]
    public void ANamesKind_IsTheRulesOne(string name, string kindName)
    {
        var kind = Enum.Parse<FieldKind>(kindName);
        Assert.Equal(kind, FieldNames.Classify(name));
        Assert.Equal(kind == FieldKind.HopByHop, ProxyHeaders.IsHopByHop(name));

        // An answer's names, read as bytes: the same hop-by-hop ones.
        var answerKind = FieldNames.ClassifyAnswer(Encoding.ASCII.GetBytes(name));
        Assert.Equal(kind == FieldKind.HopByHop, answerKind is AnswerFieldKind.HopByHop or AnswerFieldKind.Connection or AnswerFieldKind.TransferEncoding);
    }

    [Theory]
    [InlineData("Content-Length", nameof(AnswerFieldKind.ContentLength))]
    [InlineData("content-LENGTH", nameof(AnswerFieldKind.ContentLength))]
    [InlineData("date", nameof(AnswerFieldKind.Date))]
    [InlineData("Retry-After", nameof(AnswerFieldKind.RetryAfter))]
    [InlineData("CONNECTION", nameof(AnswerFieldKind.Connection))]
    [InlineData("transfer-encoding", nameof(AnswerFieldKind.TransferEncoding))]
    [InlineData("Proxy-", nameof(AnswerFieldKind.HopByHop))]
    [InlineData("proxy-a", nameof(AnswerFieldKind.HopByHop))]
    [InlineData("Dates", nameof(AnswerFieldKind.Other))]
    [InlineData("Retry-Afte", nameof(AnswerFieldKind.Other))]
    [InlineData("Content-Type", nameof(AnswerFieldKind.Other))]
    [InlineData("Server", nameof(AnswerFieldKind.Other))]
    [InlineData("X-Sidecar-Error", nameof(AnswerFieldKind.Other))]
    public void AnAnswersNamesKind_IsTheRulesOne(string name, string kindName) =>
        Assert.Equal(Enum.Parse<AnswerFieldKind>(kindName), FieldNames.ClassifyAnswer(Encoding.ASCII.GetBytes(name)));

    [Fact]
    public void EveryKnownName_IsHopByHopTheSameWay_AsBytes()
    {
        foreach (var name in Sidecar.Forwarding.Http1.ResponseFieldNames.All.SelectMany(n => new[] { n, n.ToLowerInvariant(), n.ToUpperInvariant() }))
        {
            var answerKind = FieldNames.ClassifyAnswer(Encoding.ASCII.GetBytes(name));
            Assert.Equal(ProxyHeaders.IsHopByHop(name), answerKind is AnswerFieldKind.HopByHop or AnswerFieldKind.Connection or AnswerFieldKind.TransferEncoding);
        }
    }

    // Every name and value the answer's rules compare, each byte in turn replaced by every byte but CR (no token or value
    // the parser takes holds one), in both cases, longer and shorter: the folded comparison says what EqualsIgnoreCase says.
    [Theory]
    [InlineData("te")]
    [InlineData("date")]
    [InlineData("proxy-")]
    [InlineData("close")]
    [InlineData("upgrade")]
    [InlineData("trailer")]
    [InlineData("chunked")]
    [InlineData("connection")]
    [InlineData("keep-alive")]
    [InlineData("retry-after")]
    [InlineData("content-length")]
    [InlineData("transfer-encoding")]
    public void EqualsFolded_SaysWhatEqualsIgnoreCaseSays_ForBytesWithoutCr(string name)
    {
        var lower = Encoding.ASCII.GetBytes(name);
        foreach (var cased in new[] { name, name.ToUpperInvariant(), name[..1].ToUpperInvariant() + name[1..] })
        {
            var bytes = Encoding.ASCII.GetBytes(cased);
            Assert.True(FieldNames.EqualsFolded(bytes, lower), cased);
            Assert.False(FieldNames.EqualsFolded(bytes.AsSpan(0, bytes.Length - 1), lower), cased);
            Assert.False(FieldNames.EqualsFolded([.. bytes, (byte)'s'], lower), cased);
            for (var at = 0; at < bytes.Length; at++)
            {
                var changed = (byte[])bytes.Clone();
                for (var b = 0; b < 256; b++)
                {
                    if (b == '\r')
                    {
                        continue;
                    }

                    changed[at] = (byte)b;
                    Assert.True(
                        System.Text.Ascii.EqualsIgnoreCase(changed, lower) == FieldNames.EqualsFolded(changed, lower),
                        $"{cased} with byte {at} as 0x{b:x2}");
                }
            }
        }
    }

    // The fields as Kestrel holds them (a name's values together, in the order they came) and as the head's lines.
    private static (CallerFields Kestrel, CallerFields Head) Both(string lines)
    {
        var headers = new HeaderDictionary();
        var block = new StringBuilder();
        foreach (var line in lines.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(' ', '\t');
            headers[name] = Microsoft.Extensions.Primitives.StringValues.Concat(headers[name], value);
            block.Append(line).Append("\r\n");
        }

        var head = new HeadFields();
        Assert.True(head.TryRead(Encoding.Latin1.GetBytes(block.Append("\r\n").ToString())), block.ToString());
        return (new CallerFields(headers), new CallerFields(head));
    }

    private static Propagators Formats(string list) => ForwardedHeadTests.Formats(list);

    private static OriginFormRequest Request(string body) => new(body.Length == 0 ? HttpMethod.Get : HttpMethod.Post)
    {
        Version = HttpVersion.Version11,
        Content = body.Length == 0 ? null : new ByteArrayContent("abc"u8.ToArray()),
    };

    private static string WriteDirect(CallerFields fields, ForwardedValues forwarded, string body)
    {
        using var request = Request(body);
        request.Aim(new Http1Origin("http://orders:8080"), "/a?b=c", new ForwardedHead(fields, forwarded, null));
        var output = new HeadBuffer(16);
        RequestHeadWriter.Write(request, HostLine, output, out _, out _);
        return Encoding.Latin1.GetString(output.Written);
    }

    private static string Copied(CallerFields fields, ForwardedValues forwarded, string body)
    {
        using var request = Request(body);
        request.Aim(new Http1Origin("http://orders:8080"), "/a?b=c", new ForwardedHead(fields, forwarded, null));
        request.MakeAbsolute();
        return string.Join("; ", request.Headers.NonValidated.Concat(request.Content?.Headers.NonValidated ?? Enumerable.Empty<KeyValuePair<string, System.Net.Http.Headers.HeaderStringValues>>())
            .Select(h => h.Key.ToLowerInvariant() + ": " + h.Value.ToString())
            .Order(StringComparer.Ordinal));
    }

    // The fields the instance reads: names without case, a name's values in the order they came, joined as one
    // line the way HttpHeaders joins them (a space for User-Agent, "; " for Cookie, else ", ").
    private static List<string> Fields(string head) =>
        [.. head.Split("\r\n").Skip(1).Where(l => l.Length > 0)
            .Select(l => (Name: l[..l.IndexOf(':', StringComparison.Ordinal)].ToLowerInvariant(), Value: l[(l.IndexOf(':', StringComparison.Ordinal) + 2)..]))
            .GroupBy(f => f.Name)
            .Select(g => g.Key + ": " + string.Join(g.Key switch { "user-agent" => " ", "cookie" => "; ", _ => ", " }, g.Select(f => f.Value)))
            .Order(StringComparer.Ordinal)];
}

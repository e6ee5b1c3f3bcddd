using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Sidecar.Forwarding.Http1;
using Sidecar.Hosting;
using Sidecar.Platform;
using Sidecar.Tests.Reliability;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The forwarding core's reader of request heads takes only what Kestrel reads the same way and leaves the rest to
/// Kestrel (docs/performance.md#the-exchange). What it takes is sent to Kestrel set up as the agent's listeners are
/// (<see cref="AgentListeners.ReadHeadsAsTheAgent"/>), whose app answers with what it read: the method, the raw
/// target and every field value; both must have read the same. A fuzzer's requests, most of them hostile, are put
/// to the same test, so that a request the reader takes wrongly, one Kestrel refuses or reads otherwise, fails it.
/// </summary>
public sealed class RequestHeadReaderTests : IClassFixture<RequestHeadReaderTests.EchoServer>
{
    private readonly EchoServer _kestrel;

    public RequestHeadReaderTests(EchoServer kestrel) => _kestrel = kestrel;

    public static TheoryData<string> Taken => new()
    {
        "GET /v1/invoke/orders/x?a=1&b=%2F HTTP/1.1\r\nHost: 127.0.0.1:8078\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: [::1]:80\r\nAccept:  */* \t\r\n\r\n",
        "DELETE /a/b@c:d;e=f HTTP/1.1\r\nhost: orders\r\nConnection: keep-alive\r\n\r\n",
        "OPTIONS /x? HTTP/1.1\r\nHost: a\r\nX-Latin: caf\u00e9 \u00ff\r\n\r\n",
        "GET /x HTTP/1.1\r\nhost: a\r\nuser-agent: t/1\r\nX-Two: 1\r\nx-two: 2\r\nX-Empty:\r\nX-Tab:\ta\tb\t\r\nConnection: Close\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nCookie: b=2\r\nVia: 1.0 fred\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\r\nX-Quote: \"a, b\" ; c=\\\"d\\\"\r\n\r\n",
        "GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n", // absolute form
        "HEAD http://orders-2.svc.cluster/a/b?c=%2F&d HTTP/1.1\r\nhost: orders-2.svc.cluster\r\nConnection: close\r\n\r\n",
        "GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    };

    [Theory]
    [MemberData(nameof(Taken))]
    public async Task APlainHead_IsTaken_AndReadAsKestrelReadsIt(string head)
    {
        var (taken, view) = Read(Encoding.Latin1.GetBytes(head));

        Assert.True(taken);
        Assert.Equal(await _kestrel.ReadAsync(Encoding.Latin1.GetBytes(head)), view);
    }

    [Fact]
    public void TheMethod_IsHttpMethodsOwnString_AndCloseIsSeen()
    {
        var line = default(RequestLine);
        var fields = new HeadFields();

        Assert.True(RequestHeadReader.TryRead("DELETE /x HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n"u8, ref line, fields));
        Assert.Same(HttpMethods.Delete, line.Method);
        Assert.True(line.Close);
        Assert.True(RequestHeadReader.TryRead("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"u8, ref line, fields));
        Assert.False(line.Close);
        Assert.Equal(1, fields.Count);
    }

    [Theory]
    [InlineData("POST /x HTTP/1.1\r\nHost: a\r\n\r\n")] // a method that has a body
    [InlineData("PUT /x HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("TRACE /x HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("get /x HTTP/1.1\r\nHost: a\r\n\r\n")] // methods are case-sensitive
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")] // HTTP/2's preface
    [InlineData("GET /x HTTP/1.0\r\nHost: a\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\n\r\n")] // no Host
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a b\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a/b\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost:\r\n\r\n")]
    [InlineData("GET http://A/x HTTP/1.1\r\nHost: A\r\n\r\n")] // Kestrel compares Host with Uri.Authority, which lower-cases
    [InlineData("GET http://a:80/x HTTP/1.1\r\nHost: a:80\r\n\r\n")] // a port (Uri.Authority drops a default one)
    [InlineData("GET http://a/x HTTP/1.1\r\nHost: b\r\n\r\n")] // Host is not the authority
    [InlineData("GET http://a/x HTTP/1.1\r\nHost: a:80\r\n\r\n")]
    [InlineData("GET https://a/x HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET HTTP://a/x HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET http://a HTTP/1.1\r\nHost: a\r\n\r\n")] // no path
    [InlineData("GET http://a?x HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET http://u@a/x HTTP/1.1\r\nHost: a\r\n\r\n")] // user info
    [InlineData("GET http://a..b/x HTTP/1.1\r\nHost: a..b\r\n\r\n")]
    [InlineData("GET http://-a/x HTTP/1.1\r\nHost: -a\r\n\r\n")]
    [InlineData("GET http://a/../x HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET http://a/%41 HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET * HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n")] // Kestrel decodes the path
    [InlineData("GET /a/../b HTTP/1.1\r\nHost: a\r\n\r\n")] // and removes dot segments
    [InlineData("GET /a/./b HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /a/.. HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /a\"b HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /a\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /a?b#c HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /a?b c HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /a  HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET  /a HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")] // any body framing is Kestrel's to check
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, x\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nConnection: close\r\n\r\n")] // Kestrel keeps one value of the two
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n")] // space before the colon
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\n X-A: 1\r\n\r\n")] // obsolete line folding
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nX-A\r\n\r\n")] // no colon
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nX\u00e9: 1\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nX-A: 1\u0001\r\n\r\n")] // control characters
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nX-A: 1\u007f\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nX-A: 1\u0000\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nX-A: 1\n2\r\n\r\n")] // a bare LF
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\nHost: a\n\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\n")] // not a whole head
    public void AnythingElse_IsLeftToKestrel(string head)
    {
        Assert.False(Read(Encoding.Latin1.GetBytes(head)).Taken);
    }

    [Fact]
    public async Task KestrelsLimits_AreKestrelsToEnforce_AndWhatIsTakenUnderThemKestrelReadsToo()
    {
        string Fields(int count, int size = 1) => string.Concat(Enumerable.Range(0, count).Select(i => $"X-{i:D3}: {new string('v', size)}\r\n"));
        var atLine = "GET /" + new string('a', RequestHeadReader.MaxRequestLine - "GET / HTTP/1.1\r\n".Length) + " HTTP/1.1\r\nHost: a\r\n\r\n";
        var overLine = "GET /" + new string('a', RequestHeadReader.MaxRequestLine) + " HTTP/1.1\r\nHost: a\r\n\r\n";
        var atCount = "GET /x HTTP/1.1\r\nHost: a\r\n" + Fields(RequestHeadReader.MaxFieldCount - 1) + "\r\n";
        var overCount = "GET /x HTTP/1.1\r\nHost: a\r\n" + Fields(RequestHeadReader.MaxFieldCount) + "\r\n";
        // Ten lines of about 3.2 KiB each: the fields' total just under the limit, then just over it.
        var lineSize = (RequestHeadReader.MaxFieldsTotal - "Host: a\r\n\r\n".Length) / 10 - "X-000: \r\n".Length;
        var underTotal = "GET /x HTTP/1.1\r\nHost: a\r\n" + Fields(10, lineSize) + "\r\n";
        var overTotal = "GET /x HTTP/1.1\r\nHost: a\r\n" + Fields(10, lineSize + 1) + "\r\n";

        foreach (var head in new[] { atLine, atCount, underTotal })
        {
            var (taken, view) = Read(Encoding.Latin1.GetBytes(head));
            Assert.True(taken, head[..40]);
            Assert.Equal(await _kestrel.ReadAsync(Encoding.Latin1.GetBytes(head)), view);
        }

        Assert.False(Read(Encoding.Latin1.GetBytes(overLine)).Taken);
        Assert.False(Read(Encoding.Latin1.GetBytes(overCount)).Taken);
        Assert.False(Read(Encoding.Latin1.GetBytes(overTotal)).Taken);
    }

    [Fact]
    public async Task WhatTheReaderTakesOfAFuzzersRequests_KestrelReadsTheSame()
    {
        var routes = new[] { "/v1/invoke/orders/api", "/v1/invoke/orders", "/", "/ping", "/v1/config" };
        var fuzzer = new RequestFuzzer(new Random(20261204), routes, 8078);
        var taken = 0;
        for (var i = 0; i < 2000; i++)
        {
            var request = fuzzer.Next();
            var end = request.Text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0 && Read(request.Bytes.AsSpan(0, end + 4)) is (true, var view))
            {
                taken++;
                var kestrel = await _kestrel.ReadAsync(request.Bytes);
                Assert.True(kestrel == view, $"{request.Summary}\nKestrel read:\n{kestrel}\nthe reader:\n{view}");
            }
        }

        // The check has requests to check: the fuzzer's plain GET, HEAD, DELETE and OPTIONS without a body.
        Assert.True(taken >= 30, $"the reader took {taken} of 2,000 requests");
    }

    [Fact]
    public async Task PlainRequestsWithRandomFields_AreReadAsKestrelReadsThem()
    {
        // Names of every kind the rules know, values of any byte a field may hold, white space around them or not.
        string[] names = ["X-A", "x-a", "Accept", "Cookie", "Via", "traceparent", "b3", "Forwarded", "X-Forwarded-For", "Keep-Alive", "TE", "Proxy-Foo", "Connection", "If-None-Match", "Authorization", "X-Request-Timeout"];
        var random = new Random(4);
        var taken = 0;
        for (var i = 0; i < 300; i++)
        {
            // A third in absolute form, its authority of every shape and its Host the same or not.
            string[] authorities = ["orders", "Orders", "orders.svc.cluster", "a-b", "a:8080", "127.0.0.1", "xn--bcher-kva"];
            var authority = authorities[random.Next(authorities.Length)];
            var (target, host) = random.Next(3) == 0
                ? ($"http://{authority}/a?i={i}", random.Next(4) == 0 ? authorities[random.Next(authorities.Length)] : authority)
                : ($"/v1/invoke/orders/a?i={i}", "127.0.0.1:8078");
            var head = new StringBuilder($"{new[] { "GET", "HEAD", "DELETE", "OPTIONS" }[random.Next(4)]} {target} HTTP/1.1\r\nHost: {host}\r\n");
            for (var n = random.Next(8); n > 0; n--)
            {
                var name = names[random.Next(names.Length)];
                var value = name == "Connection" ? new[] { "close", "keep-alive", "Keep-Alive", "x" }[random.Next(4)] : Value(random);
                head.Append(name).Append(':').Append(new[] { "", " ", "\t", "  " }[random.Next(4)]).Append(value).Append(new[] { "", " ", "\t " }[random.Next(3)]).Append("\r\n");
            }

            var bytes = Encoding.Latin1.GetBytes(head.Append("\r\n").ToString());
            if (Read(bytes) is (true, var view))
            {
                taken++;
                Assert.Equal(await _kestrel.ReadAsync(bytes), view);
            }
        }

        Assert.True(taken >= 150, $"the reader took {taken} of 300 requests");
    }

    // Visible ASCII and Latin-1, spaces and tabs inside.
    private static string Value(Random random)
    {
        var chars = new char[random.Next(0, 40)];
        for (var c = 0; c < chars.Length; c++)
        {
            chars[c] = random.Next(10) switch
            {
                0 => ' ',
                1 => '\t',
                2 => (char)random.Next(0xA0, 0x100),
                _ => (char)random.Next(0x21, 0x7F),
            };
        }

        return new string(chars).Trim(' ', '\t');
    }

    [Fact]
    public void TheSameTarget_OnTheNextRequest_KeepsItsString()
    {
        var line = default(RequestLine);
        var fields = new HeadFields();
        var head = "GET /v1/invoke/a/b?c HTTP/1.1\r\nHost: a\r\n\r\n"u8;
        Assert.True(RequestHeadReader.TryRead(head, ref line, fields));
        var raw = line.RawTarget;

        Assert.True(RequestHeadReader.TryRead(head, ref line, fields));
        Assert.Same(raw, line.RawTarget);
        Assert.True(RequestHeadReader.TryRead("GET /v1/invoke/a/x HTTP/1.1\r\nHost: a\r\n\r\n"u8, ref line, fields));
        Assert.Equal("/v1/invoke/a/x", line.RawTarget);
    }

    [Theory]
    [InlineData("X-A: ab", false)]
    [InlineData("X-A: a\tb", false)]
    [InlineData("X-A: a\u0001b", true)]
    [InlineData("X-A: ab\u007f", true)]
    [InlineData("X-A: \u001f", true)]
    [InlineData("X-A: caf\u00e9", false)]
    public void AValuesControlCharacter_IsSeen_WhicheverReadingTookItsLine(string lines, bool control)
    {
        var fields = new HeadFields();
        Assert.True(fields.TryRead(Encoding.Latin1.GetBytes($"Host: a\r\n{lines}\r\nX-C: c\r\n\r\n")));
        Assert.Equal(control, fields.HasControl);

        var line = default(RequestLine);
        Assert.Equal(!control, RequestHeadReader.TryRead(Encoding.Latin1.GetBytes($"GET / HTTP/1.1\r\nHost: a\r\n{lines}\r\n\r\n"), ref line, fields));
    }

    [Theory]
    [InlineData("Host: a\r\nX-A: 1\r\n", 0)]
    [InlineData("X-A: 1\r\nhost: a\r\n", 1)]
    [InlineData("X-A: 1\r\nX-B: 2\r\nHOST: a\r\nX-C: 3\r\n", 2)]
    public void TheHostsField_IsTheOneTheReaderTook(string lines, int index)
    {
        var line = default(RequestLine);
        var fields = new HeadFields();
        Assert.True(RequestHeadReader.TryRead(Encoding.Latin1.GetBytes($"GET / HTTP/1.1\r\n{lines}\r\n"), ref line, fields));

        Assert.Equal(index, line.HostField);
        Assert.Equal("a", Encoding.Latin1.GetString(fields.ValueBytes(line.HostField)));
    }

    // What the reader read, written as the echo server writes what Kestrel read.
    private static (bool Taken, string View) Read(ReadOnlySpan<byte> head)
    {
        var line = default(RequestLine);
        var fields = new HeadFields();
        if (!RequestHeadReader.TryRead(head, ref line, fields))
        {
            return (false, "");
        }

        var values = new List<string>();
        for (var i = 0; i < fields.Count; i++)
        {
            values.Add(fields.Field(i).Name.ToString().ToLowerInvariant() + ": " + Encoding.Latin1.GetString(fields.ValueBytes(i)));
        }

        var origin = line.RawTarget[line.PathStart..];
        var query = origin.IndexOf('?', StringComparison.Ordinal);
        return (true, View(line.Method, line.RawTarget, query < 0 ? origin : origin[..query], values));
    }

    // Kestrel gives its own strings for Connection's usual values ("close" for "Close"): hop-by-hop, never forwarded, compared without case.
    private static string View(string method, string target, string path, IEnumerable<string> fields) =>
        $"{method}\n{target}\n{path}\n{string.Join("\n", fields.Select(f => f.StartsWith("connection: ", StringComparison.Ordinal) ? f.ToLowerInvariant() : f).Order(StringComparer.Ordinal))}";

    /// <summary>Kestrel set up as the agent's listeners are; its app answers with what it read, and closes.</summary>
    public sealed class EchoServer : IAsyncLifetime
    {
        private AgentKestrel? _kestrel;

        public async Task InitializeAsync() => _kestrel = await AgentKestrel.StartAsync(context =>
        {
            var request = context.Request;
            var fields = request.Headers.SelectMany(h => h.Value.Select(v => h.Key.ToLowerInvariant() + ": " + v));
            var view = View(request.Method, context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget, request.Path.Value ?? "", fields);

            // In a field, base64: a HEAD's answer has no body.
            context.Response.Headers["X-Read"] = Convert.ToBase64String(Encoding.Latin1.GetBytes(view));
            context.Response.Headers.Connection = "close";
            context.Response.ContentLength = 0;
            return Task.CompletedTask;
        });

        /// <summary>What Kestrel read of <paramref name="request"/>, or its status when it did not answer 200.</summary>
        public async Task<string> ReadAsync(byte[] request)
        {
            var answer = await RawClient.SendAsync(_kestrel!.Port, request);
            return answer.Status == 200 && answer.Header("X-Read") is { } read ? Encoding.Latin1.GetString(Convert.FromBase64String(read)) : $"status {answer.Status}";
        }

        public async Task DisposeAsync()
        {
            if (_kestrel is not null)
            {
                await _kestrel.DisposeAsync();
            }
        }
    }
}

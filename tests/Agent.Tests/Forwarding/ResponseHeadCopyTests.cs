using System.Text.RegularExpressions;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The answer a caller gets, through Kestrel's real response headers (which refuse a control character), is the
/// same whether the instance's answer came through the lean client, copied from its fields, or through
/// SocketsHttpHandler (<c>Forwarding:LeanHttp1=false</c>), copied from HttpHeaders' collections
/// (docs/performance.md#the-lean-http11-upstream-client): the head as HTTP reads it (the status line; the fields,
/// names without case, a name's values in order: a call the forwarding core takes gets the instance's fields in its
/// order and spelling, docs/performance.md#one-pass-over-the-answers-head-2026-12-05-seventh-session), and for answers
/// of every framing, the ones the agent refuses included, the whole answer but its <c>Date</c>. What only the lean client
/// refuses (RFC 9112 lets a proxy refuse it) is <c>LeanHttp1HandlerTests</c>' and <c>ResponseHeadParserTests</c>'.
/// </summary>
public sealed partial class ResponseHeadCopyTests
{
    private const string Request = "GET /v1/invoke/orders/x HTTP/1.1\r\nHost: 127.0.0.1\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    public static TheoryData<string, string> Heads => new()
    {
        { "duplicates, Set-Cookie, Connection names", "HTTP/1.1 200 OK\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\nX-A: 1\r\nSet-Cookie: a=1\r\nConnection: X-Drop\r\nX-Drop: gone\r\nx-a: 2\r\nset-cookie: b=2\r\nContent-Length: 2" },
        { "content headers, casing, Latin-1", "HTTP/1.1 200 OK\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\ncontent-type: text/plain\r\nX-First: 1\r\nContent-Disposition: attachment\r\nx-frame-options: DENY\r\nX-Latin: caf\u00e9\r\ncontent-length: 2\r\nX-Last: 2" },
        { "control characters", "HTTP/1.1 200 OK\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\nX-Ctl: a\u0001b\r\nX-Fine: yes\r\nX-Ctl: c\r\nX-Del: a\u007fb\r\nX-Empty:\r\nContent-Length: 2" },
        { "hop-by-hop", "HTTP/1.1 200 OK\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\nKeep-Alive: timeout=5\r\nProxy-Foo: 1\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0" },
        // A date to come (a two-digit year reads as 2049): a 503 whose Retry-After has passed is retried, and the instance then counts more than one call.
        { "a 503's Retry-After date", "HTTP/1.1 503 Service Unavailable\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\nRetry-After: Friday, 31-Dec-49 23:59:59 GMT\r\nContent-Length: 2" },
        { "a 429's Retry-After", "HTTP/1.1 429 Too Many Requests\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\nRetry-After: 120\r\nRetry-After: 7\r\nContent-Length: 2" },
    };

    [Theory]
    [MemberData(nameof(Heads))]
    public async Task TheCallersHead_IsTheSame_ThroughEitherClient(string name, string head)
    {
        var answer = RawUpstream.Latin1(head.Contains("chunked", StringComparison.Ordinal) ? head + "\r\n\r\n" : head + "\r\n\r\nok");
        await using var instance = RawUpstream.Start(_ => answer);
        await using var lean = await StartAsync(instance, lean: true);
        await using var sockets = await StartAsync(instance, lean: false);

        var viaLean = await RawHttp.SendAsync(lean.BaseUri.Port, Request);
        var viaSockets = await RawHttp.SendAsync(sockets.BaseUri.Port, Request);

        Assert.Equal("ok", viaLean.Body);
        Assert.True(Fields(viaSockets.Head) == Fields(viaLean.Head), $"{name}:\n{viaSockets.Head}\n---\n{viaLean.Head}");
        Assert.Equal(2, instance.Count);
    }

    /// <summary>What an instance answers (every answer ends its connection), and the caller's method.</summary>
    public static TheoryData<string, string> Answers() => new()
    {
        { "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello" },
        { "HEAD", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n" },
        { "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n3\r\nabc\r\n3;ext=1\r\ndef\r\n0\r\nX-Trailer: t\r\n\r\n" },
        { "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" },
        { "GET", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close" },
        { "GET", "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n" },
        { "GET", "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nCache-Control: max-age=60\r\n\r\n" },
        { "GET", "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: secret\r\nX-Kept: yes\r\nProxy-Authenticate: Basic\r\nContent-Length: 2\r\n\r\nok" },
        { "GET", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" },
        { "GET", "HTTP/1.1 200 OK\r\nContent-Language: fr\r\nExpires: 0\r\nLast-Modified: Tue, 01 Dec 2026 10:00:00 GMT\r\nServer: upstream/1.0\r\nContent-Length: 2\r\n\r\nok" },
        { "GET", "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"error\":404}" },
        { "GET", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom" },
        { "GET", "HTTP/1.1 200 Fine Thanks\r\nContent-Length: 0\r\n\r\n" },
        { "GET", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" },
        { "GET", "HTTP/1.1 2x0 Odd\r\nContent-Length: 2\r\n\r\nok" },
        { "GET", "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok" },
    };

    [Theory]
    [MemberData(nameof(Answers))]
    public async Task TheCallersWholeAnswer_IsTheSame_ThroughEitherClient(string method, string answer)
    {
        var viaLean = await AnswerThroughAsync(method, answer, lean: true);
        var viaSockets = await AnswerThroughAsync(method, answer, lean: false);

        Assert.NotEqual(0, viaSockets.Status); // the comparison has an answer to compare
        Assert.Equal(Normalize(viaSockets), Normalize(viaLean));
    }

    [Fact]
    public async Task AnAnswerWhoseBodyBreaksBeforeItsFirstByte_EndsTheCallersConnectionWithoutAnAnswer_EitherWay()
    {
        // A chunk size that is not hex: the head was read, no byte of the body came; nothing of it reaches the caller.
        const string broken = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n";

        var viaLean = await AnswerThroughAsync("GET", broken, lean: true);
        var viaSockets = await AnswerThroughAsync("GET", broken, lean: false);

        Assert.Equal((0, ""), (viaSockets.Status, viaSockets.Head));
        Assert.Equal((0, ""), (viaLean.Status, viaLean.Head));
    }

    [Fact]
    public async Task AnAnswerShorterThanItsContentLength_NeverReachesTheCallerWhole_EitherWay()
    {
        // 3 bytes of 10, then the close: the caller's connection ends short (Kestrel may reset it before the 3 bytes leave).
        const string shortAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";

        foreach (var lean in new[] { true, false })
        {
            var answer = await AnswerThroughAsync("GET", shortAnswer, lean);

            Assert.True(answer.Status == 0 || (answer.Header("Content-Length") == "10" && answer.Body.Length < 10), $"lean {lean}: {answer}");
        }
    }

    [Fact]
    public void TheComparison_SeesADifferentField()
    {
        // It must be able to fail: two answers that differ by one field's value, by the order of one name's values, by a
        // field more or by their status are not the same; a name's spelling and the order of two names do not count.
        var one = new RawHttp.Answer(200, "HTTP/1.1 200 OK\r\nDate: a\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3", "ok");

        Assert.Equal(Normalize(one), Normalize(one with { Head = "HTTP/1.1 200 OK\r\nDate: b\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3" }));
        Assert.Equal(Normalize(one), Normalize(one with { Head = "HTTP/1.1 200 OK\r\nx-b: 2\r\nDate: a\r\nx-a: 1\r\nX-A: 3" }));
        Assert.NotEqual(Normalize(one), Normalize(one with { Head = "HTTP/1.1 200 OK\r\nDate: a\r\nX-A: 2\r\nX-B: 2\r\nX-A: 3" }));
        Assert.NotEqual(Normalize(one), Normalize(one with { Head = "HTTP/1.1 200 OK\r\nDate: a\r\nX-A: 3\r\nX-B: 2\r\nX-A: 1" }));
        Assert.NotEqual(Normalize(one), Normalize(one with { Head = "HTTP/1.1 200 OK\r\nDate: a\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\nX-C: 4" }));
        Assert.NotEqual(Normalize(one), Normalize(one with { Head = "HTTP/1.1 201 Created\r\nDate: a\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3" }));
        Assert.NotEqual(Fields(one.Head), Fields("HTTP/1.1 200 OK\r\nDate: a\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\nX-C: 4"));
        Assert.Equal(Fields(one.Head), Fields("HTTP/1.1 200 OK\r\nx-b: 2\r\nDate: a\r\nx-a: 1\r\nX-A: 3"));
    }

    private static async Task<RawHttp.Answer> AnswerThroughAsync(string method, string answer, bool lean)
    {
        await using var instance = RawUpstream.Start(_ => RawUpstream.Latin1(answer));
        await using var agent = await StartAsync(instance, lean);
        return await RawHttp.SendAsync(agent.BaseUri.Port, method + Request[3..]);
    }

    /// <summary>
    /// The head but its <c>Date</c> (the agent's own clock when the instance sent none), the body; each agent's
    /// pseudonym and ids made alike, and a problem's <c>detail</c>, which says what was wrong in each client's own
    /// words (SocketsHttpHandler's "Received an invalid status line", the lean client's "The answer is not valid HTTP/1.1").
    /// </summary>
    private static string Normalize(RawHttp.Answer answer)
    {
        var fields = Fields(string.Join("\r\n", answer.Head.Split("\r\n").Where(l => !l.StartsWith("Date:", StringComparison.OrdinalIgnoreCase))));
        var body = answer.Header("Content-Type") == "application/problem+json" ? Detail().Replace(answer.Body, "\"detail\":\"*\"") : answer.Body;
        return Ids().Replace(Pseudonym().Replace(fields + "\n\n" + body, "sidecar-*"), "ID");
    }

    // A head as HTTP reads it: its status line, then its fields by name (without case), a name's values in the order they came.
    private static string Fields(string head)
    {
        var lines = head.Split("\r\n");
        var fields = lines.Skip(1).Where(l => l.Length > 0)
            .Select((l, i) => (Name: l.Split(':')[0].ToLowerInvariant(), Line: l.Split(':')[0].ToLowerInvariant() + l[l.IndexOf(':', StringComparison.Ordinal)..], i))
            .OrderBy(f => f.Name, StringComparer.Ordinal).ThenBy(f => f.i).Select(f => f.Line);
        return string.Join("\n", fields.Prepend(lines[0]));
    }

    [GeneratedRegex("\"detail\":\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex Detail();

    [GeneratedRegex("sidecar-[0-9a-f]{16}")]
    private static partial Regex Pseudonym();

    [GeneratedRegex("[0-9a-f]{32}|[0-9a-f]{16}")]
    private static partial Regex Ids();

    private static Task<AgentHarness> StartAsync(RawUpstream instance, bool lean) =>
        AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["ROUTES"] = $"orders={instance.Url}",
            ["APP_HEALTH_URL"] = "",
            ["Forwarding__LeanHttp1"] = lean ? "true" : "false",
        });
}

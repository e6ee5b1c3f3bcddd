using System.Text;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The request head on the wire (docs/performance.md#the-request-head-from-kestrels-headers): the lean client
/// writes it from the caller's headers, SocketsHttpHandler (<c>Forwarding__LeanHttp1=false</c>) from the request
/// message they were copied into; the instance sees the same set of header lines either way.
/// </summary>
public sealed partial class LeanHeadWireTests
{
    private static readonly byte[] Ok = RawUpstream.Latin1("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");

    // Each with a caller's trace: a trace the agent starts is random, so two agents would start two.
    public static TheoryData<string, string?> Requests() => new()
    {
        {
            "POST /v1/invoke/orders/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: X-Secret, close\r\nX-Secret: s\r\nKeep-Alive: 5\r\n" +
            "X-A: 1\r\nX-A: 2\r\nUser-Agent: a/1\r\nUser-Agent: b/2\r\nCookie: a=1\r\nCookie: b=2\r\nAccept: */*\r\n" +
            "Forwarded: for=10.0.0.1\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-For: 10.0.0.9\r\nVia: 1.0 fred\r\n" +
            "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\ntracestate: a=1\r\nbaggage: k=v\r\n" +
            "Content-Type: text/plain\r\nContent-Length: 3\r\nExpect: 100-continue\r\nX-Latin: caf\u00e9",
            "abc"
        },
        {
            "GET /v1/invoke/orders/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nExpires: 0\r\nX-B3-TraceId: 0af7651916cd43dd\r\n" +
            "X-B3-SpanId: b7ad6b7169203331\r\nX-B3-Sampled: 0\r\nX-Empty: \r\nX-Tab: a\tb",
            null
        },
        { "DELETE /v1/invoke/orders/x HTTP/1.1\r\nHost: 127.0.0.1\r\nb3: 0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1", null },
        { "POST /v1/invoke/orders/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n" +
            "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", "3\r\nabc\r\n0\r\n\r\n" },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task TheInstanceSeesTheSameHeaders_FromTheLeanClientAndFromSocketsHttpHandler(string request, string? body)
    {
        var lean = await HeadThroughAsync(request, body, lean: true);
        var sockets = await HeadThroughAsync(request, body, lean: false);

        Assert.Equal(sockets.Line, lean.Line);
        Assert.True(sockets.Headers.SequenceEqual(lean.Headers), $"SocketsHttpHandler:\n{string.Join("\n", sockets.Headers)}\nlean:\n{string.Join("\n", lean.Headers)}");
        Assert.Contains(lean.Headers, h => h.StartsWith("x-forwarded-for: ", StringComparison.Ordinal)); // the comparison has something to compare
    }

    private static async Task<(string Line, List<string> Headers)> HeadThroughAsync(string request, string? body, bool lean)
    {
        await using var orders = RawUpstream.Start(_ => Ok);
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["ROUTES"] = "orders=" + orders.Url,
            ["APP_HEALTH_URL"] = "",
            ["OTEL_PROPAGATORS"] = "tracecontext,b3,b3multi,baggage",
            ["Forwarding__LeanHttp1"] = lean ? "true" : "false",
        });

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, request, body);

        Assert.Equal(200, answer.Status);
        var head = Encoding.Latin1.GetString(Assert.Single(orders.Heads));
        var lines = head[..head.IndexOf("\r\n\r\n", StringComparison.Ordinal)].Split("\r\n");

        // Host is the instance's (its port differs per run), Via names each agent's own pseudonym.
        var headers = lines.Skip(1)
            .Select(l => l[..l.IndexOf(':', StringComparison.Ordinal)].ToLowerInvariant() + l[l.IndexOf(':', StringComparison.Ordinal)..])
            .Where(l => !l.StartsWith("host:", StringComparison.Ordinal))
            .Select(l => Pseudonym().Replace(l, "sidecar-*"))
            .Order(StringComparer.Ordinal)
            .ToList();
        return (lines[0], headers);
    }

    [System.Text.RegularExpressions.GeneratedRegex("sidecar-[0-9a-f]{16}")]
    private static partial System.Text.RegularExpressions.Regex Pseudonym();
}

using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The answer head a caller gets, through Kestrel's real response headers (which refuse a control
/// character), is the same whether the instance's answer came through the lean client, copied from its
/// fields, or through SocketsHttpHandler (<c>Forwarding:LeanHttp1=false</c>), copied from HttpHeaders'
/// collections (docs/performance.md#what-was-tuned).
/// </summary>
public sealed class ResponseHeadCopyTests
{
    public static TheoryData<string, string> Heads => new()
    {
        { "duplicates, Set-Cookie, Connection names", "HTTP/1.1 200 OK\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\nX-A: 1\r\nSet-Cookie: a=1\r\nConnection: X-Drop\r\nX-Drop: gone\r\nx-a: 2\r\nset-cookie: b=2\r\nContent-Length: 2" },
        { "content headers, casing, Latin-1", "HTTP/1.1 200 OK\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\ncontent-type: text/plain\r\nX-First: 1\r\nContent-Disposition: attachment\r\nx-frame-options: DENY\r\nX-Latin: caf\u00e9\r\ncontent-length: 2\r\nX-Last: 2" },
        { "control characters", "HTTP/1.1 200 OK\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\nX-Ctl: a\u0001b\r\nX-Fine: yes\r\nX-Ctl: c\r\nX-Del: a\u007fb\r\nX-Empty:\r\nContent-Length: 2" },
        { "hop-by-hop", "HTTP/1.1 200 OK\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\nKeep-Alive: timeout=5\r\nProxy-Foo: 1\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0" },
        { "a 503's Retry-After date", "HTTP/1.1 503 Service Unavailable\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\nRetry-After: Friday, 04-Dec-26 07:28:00 GMT\r\nContent-Length: 2" },
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

        var viaLean = await RawHttp.SendAsync(lean.BaseUri.Port, "GET /v1/invoke/orders/x HTTP/1.1\r\nHost: 127.0.0.1");
        var viaSockets = await RawHttp.SendAsync(sockets.BaseUri.Port, "GET /v1/invoke/orders/x HTTP/1.1\r\nHost: 127.0.0.1");

        Assert.Equal("ok", viaLean.Body);
        Assert.True(viaSockets.Head == viaLean.Head, $"{name}:\n{viaSockets.Head}\n---\n{viaLean.Head}");
        Assert.Equal(2, instance.Count);
    }

    private static Task<AgentHarness> StartAsync(RawUpstream instance, bool lean) =>
        AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["ROUTES"] = $"orders={instance.Url}",
            ["APP_HEALTH_URL"] = "",
            ["Forwarding__LeanHttp1"] = lean ? "true" : "false",
        });
}

using System.Globalization;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>A canary upstream that must never be reached, the intended instance, and the agent between them.</summary>
public sealed class HostileTargetFixture : IAsyncLifetime
{
    public Upstream Canary { get; private set; } = null!;

    public Upstream Orders { get; private set; } = null!;

    public AgentHarness Agent { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Canary = await Upstream.StartAsync("canary");
        Orders = await Upstream.StartAsync("orders");
        Agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={Orders.Url}" });
    }

    public async Task DisposeAsync()
    {
        await Agent.DisposeAsync();
        await Orders.DisposeAsync();
        await Canary.DisposeAsync();
    }
}

/// <summary>
/// docs/forwarding.md#path-safety: hostile paths and hosts, sent byte for byte, never reach anything but the
/// intended instance. Every row checks the canary saw nothing and the instance saw only what it should.
/// </summary>
public sealed class HostileTargetTests(HostileTargetFixture fixture) : IClassFixture<HostileTargetFixture>
{
    public static TheoryData<string, string, int, int> Rows => new()
    {
        // request line, Host header, expected status, requests the intended instance gets
        { "GET /v1/invoke/orders/..%2f..%2fetc/passwd HTTP/1.1", "{agent}", 400, 0 },
        { "GET /v1/invoke/orders/%2e%2e/%2e%2e/etc/passwd HTTP/1.1", "{agent}", 404, 0 }, // Kestrel resolves %2e dots before routing: no route
        { "GET /v1/invoke/orders/%2E%2E HTTP/1.1", "{agent}", 404, 0 },
        { "GET /v1/invoke/orders/a/../../x HTTP/1.1", "{agent}", 400, 0 },
        { "GET /v1/invoke/orders/a%2f..%2f..%2fx HTTP/1.1", "{agent}", 400, 0 },
        { "GET /v1/invoke/orders/%252e%252e/%252e%252e/x HTTP/1.1", "{agent}", 400, 0 },
        { "GET /v1/invoke/orders/..;/..;/x HTTP/1.1", "{agent}", 400, 0 },
        { "GET /v1/invoke/orders/%5c..%5c..%5cx HTTP/1.1", "{agent}", 400, 0 },
        { "GET /v1/invoke/orders/a\\..\\..\\x HTTP/1.1", "{agent}", 400, 0 },
        { "GET /v1/invoke/orders/%c0%ae%c0%ae/x HTTP/1.1", "{agent}", 400, 0 },
        { "GET /v1/invoke/orders/x%0d%0aHost:%20evil HTTP/1.1", "{agent}", 400, 0 },
        { "GET /v1/invoke/orders/x%00.json HTTP/1.1", "{agent}", 400, 0 },
        { "GET /v1/invoke/orders//127.0.0.1:{canary}/x HTTP/1.1", "{agent}", 400, 0 },
        { "GET /v1/invoke/orders/%2f127.0.0.1:{canary}/x HTTP/1.1", "{agent}", 200, 1 }, // one segment named "/127.0.0.1:port": harmless
        { "GET /v1/invoke/orders/../../ping HTTP/1.1", "{agent}", 404, 0 }, // Kestrel resolves the dots first: /v1/ping is no route
        { "GET /v1/invoke/127.0.0.1:{canary}/x HTTP/1.1", "{agent}", 404, 0 },
        { "GET /v1/invoke/orders@127.0.0.1:{canary}/x HTTP/1.1", "{agent}", 404, 0 },
        { "GET /v1/invoke/http:%2f%2f127.0.0.1:{canary}/x HTTP/1.1", "{agent}", 404, 0 },
        { "GET /v1/invoke/169.254.169.254/latest/meta-data/ HTTP/1.1", "{agent}", 404, 0 },
        { "GET /v1/invoke/localhost/x HTTP/1.1", "{agent}", 404, 0 },
        { "GET /proxy?vip=orders&path=http://127.0.0.1:{canary}/x HTTP/1.1", "{agent}", 400, 0 },
        { "GET /proxy?vip=orders&path=//127.0.0.1:{canary}/x HTTP/1.1", "{agent}", 400, 0 },
        { "GET /proxy?vip=orders&path=%2F%2F127.0.0.1:{canary}%2Fx HTTP/1.1", "{agent}", 400, 0 },
        { "GET /proxy?vip=orders&path=@127.0.0.1:{canary}/x HTTP/1.1", "{agent}", 400, 0 },
        { "GET /proxy?vip=orders&path=%2F%2E%2E%2F%2E%2E%2Fetc HTTP/1.1", "{agent}", 400, 0 },
        { "GET /proxy?vip=orders&path=/x%0D%0AHost:%20127.0.0.1 HTTP/1.1", "{agent}", 400, 0 },
        { "GET /proxy?vip=orders&path=%5C%5C127.0.0.1:{canary}%5Cx HTTP/1.1", "{agent}", 400, 0 },
        { "GET /proxy?vip=orders&path=/a%20b HTTP/1.1", "{agent}", 400, 0 },
        { "GET /proxy?vip=127.0.0.1:{canary}&path=/x HTTP/1.1", "{agent}", 404, 0 },
        { "GET /proxy?vip=orders.&path=/x HTTP/1.1", "{agent}", 404, 0 },
        { "GET http://127.0.0.1:{canary}/x HTTP/1.1", "127.0.0.1:{canary}", 404, 0 },
        { "GET http://localhost:{canary}/x HTTP/1.1", "localhost:{canary}", 404, 0 },
        { "GET http://[::1]:{canary}/x HTTP/1.1", "[::1]:{canary}", 404, 0 },
        { "GET http://127.0.0.1/x HTTP/1.1", "127.0.0.1", 404, 0 },
        { "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1", "169.254.169.254", 404, 0 },
        { "GET http://metadata.google.internal/computeMetadata/v1/ HTTP/1.1", "metadata.google.internal", 404, 0 },
        { "GET http://orders@127.0.0.1:{canary}/x HTTP/1.1", "127.0.0.1:{canary}", 400, 0 },
        { "GET http://orders//127.0.0.1:{canary}/x HTTP/1.1", "orders", 400, 0 },
        { "GET http://orders/..%2f..%2fx HTTP/1.1", "orders", 400, 0 },
        { "GET http://127.0.0.1:{agentPort}/v1/invoke/127.0.0.1:{canary}/x HTTP/1.1", "{agent}", 404, 0 },
        { "GET /x HTTP/1.1", "127.0.0.1:{canary}", 404, 0 }, // the agent's API: no such route
        { "GET /x HTTP/1.1", "169.254.169.254", 404, 0 },
        { "GET //127.0.0.1:{canary}/x HTTP/1.1", "orders", 400, 0 },
        { "GET /x HTTP/1.1", "orders@127.0.0.1:{canary}", 400, 0 }, // Kestrel refuses the Host
        // An absolute target decides, never the Host header (RFC 9112, 3.2.2): a Host naming a service opens nothing else.
        { "GET http://127.0.0.1:{canary}/x HTTP/1.1", "orders", 404, 0 },
        { "GET http://169.254.169.254/x HTTP/1.1", "ORDERS", 404, 0 },
        { "CONNECT /v1/invoke/orders/x HTTP/1.1", "{agent}", 405, 0 }, // a tunnel is refused by every way in, not only the absolute form
        { "CONNECT /proxy?vip=orders&path=/x HTTP/1.1", "{agent}", 405, 0 },
        { "CONNECT /x HTTP/1.1", "orders", 405, 0 },
        // Controls: safe targets do reach the instance, once.
        { "GET /v1/invoke/orders/a/../b HTTP/1.1", "{agent}", 200, 1 },
        { "GET /v1/invoke/orders/files/a%2Fb?q=%2e%2e HTTP/1.1", "{agent}", 200, 1 },
        { "GET http://orders/x HTTP/1.1", "orders", 200, 1 },
        { "GET http://Orders/x HTTP/1.1", "Orders", 200, 1 }, // names are case-insensitive (was Kestrel's bare 400)
        { "GET http://orders/x HTTP/1.1", "127.0.0.1:{canary}", 200, 1 }, // the target decides, the Host naming the canary is ignored
        { "GET /x HTTP/1.1", "orders", 200, 1 },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task AHostileTarget_NeverReachesAnythingButTheIntendedInstance(string requestLine, string host, int status, int instanceRequests)
    {
        var agentPort = fixture.Agent.BaseUri.Port.ToString(CultureInfo.InvariantCulture);
        string Fill(string text) => text
            .Replace("{canary}", fixture.Canary.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{agentPort}", agentPort, StringComparison.Ordinal)
            .Replace("{agent}", "127.0.0.1:" + agentPort, StringComparison.Ordinal);
        var before = fixture.Orders.Count;

        var answer = await RawHttp.SendAsync(fixture.Agent.BaseUri.Port, $"{Fill(requestLine)}\r\nHost: {Fill(host)}");

        Assert.Equal(status, answer.Status);
        Assert.Equal(0, fixture.Canary.Count);
        Assert.Equal(instanceRequests, fixture.Orders.Count - before);
        if (status >= 400 && answer.Header("X-Sidecar-Error") is { } code)
        {
            Assert.StartsWith("application/problem+json", answer.Header("Content-Type"), StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", answer.Body, StringComparison.Ordinal);
            Assert.False(string.IsNullOrEmpty(code));
        }
    }
}

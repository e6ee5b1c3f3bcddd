using System.Diagnostics;
using System.Net;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>The forward-proxy way in: clients with HTTP_PROXY pointing at the agent, and Host = a service name.</summary>
public sealed class ForwardProxyTests
{
    private static Task<AgentHarness> StartAgentAsync(Upstream orders) =>
        AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={orders.Url}" });

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.1", true)]
    [InlineData("2130706433", true)]
    [InlineData("0x7f.0.0.1", true)]
    [InlineData("[::1]", true)]
    [InlineData("[::ffff:127.0.0.1]", true)]
    [InlineData("[fe80::1%25eth0]", true)]
    [InlineData("[fe80::1%eth0]", true)]
    [InlineData("1.2.3.4.5", false)]
    [InlineData("7f000001.rebind.example", false)]
    [InlineData("127.0.0.1.nip.io", false)]
    [InlineData("[::1", false)]
    [InlineData("[]", false)]
    [InlineData("[", false)]
    [InlineData("256.0.0.1", false)]
    [InlineData("orders", false)]
    public void AnIpLiteralHost_IsWhatIPAddressParses(string host, bool literal)
    {
        // The check allocates nothing; it must still accept exactly what IPAddress.TryParse does (docs/forwarding.md: a name such as 7f000001.rebind.example is never the agent).
        var parsed = (char.IsAsciiDigit(host[0]) || host[0] == '[') &&
                     IPAddress.TryParse(host[0] == '[' && host.Length > 1 && host[^1] == ']' ? host[1..^1] : host, out _);

        Assert.Equal(literal, Sidecar.Forwarding.ForwardProxyMiddleware.IsIpLiteral(host));
        Assert.Equal(parsed, Sidecar.Forwarding.ForwardProxyMiddleware.IsIpLiteral(host));
    }

    [Fact]
    public async Task Curl_WithTheAgentAsProxy_ReachesTheService()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);

        var (exitCode, output) = await CurlAsync("-sS", "-x", $"http://127.0.0.1:{agent.BaseUri.Port}", "http://orders/api/x?q=1");

        Assert.Equal(0, exitCode);
        Assert.Equal("orders", output);
        Assert.Equal("/api/x?q=1", orders.Last.RawTarget);
        Assert.False(orders.Last.Headers.ContainsKey("Proxy-Connection"));
    }

    [Fact]
    public async Task Curl_WithHttpProxyVariable_ReachesTheService_AndUnknownHostsAreRefused()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);

        var (_, known) = await CurlAsync(agent.BaseUri.Port, "-sS", "-X", "POST", "-d", "x=1", "http://orders/api/x");
        var (_, unknown) = await CurlAsync(agent.BaseUri.Port, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://example.com/");

        Assert.Equal("orders", known);
        Assert.Equal("POST", orders.Last.Method);
        Assert.Equal("404", unknown);
        Assert.Equal(1, orders.Count);
    }

    [Theory]
    [InlineData("http://Orders/api/x")]
    [InlineData("http://ORDERS:80/api/x")]
    public async Task Curl_WithAMixedCaseServiceName_ReachesTheService(string url)
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);

        // curl sends Host: Orders; Kestrel compared it with the lower-cased target and answered a bare 400.
        var (exitCode, output) = await CurlAsync("-sS", "-x", $"http://127.0.0.1:{agent.BaseUri.Port}", url);

        Assert.Equal(0, exitCode);
        Assert.Equal("orders", output);
        Assert.Equal("/api/x", orders.Last.RawTarget);
    }

    [Fact]
    public async Task AnAgentRoutePath_WithAnotherMethod_ForAService_IsStillForwarded()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);

        // /ping is the agent's (GET, HEAD only): a POST addressed to a service is the service's business, not a 405.
        var absolute = await RawHttp.SendAsync(agent.BaseUri.Port, "POST http://orders/ping HTTP/1.1\r\nHost: orders\r\nContent-Length: 0");
        var byHost = await RawHttp.SendAsync(agent.BaseUri.Port, "POST /ping HTTP/1.1\r\nHost: orders\r\nContent-Length: 0");
        var invoke = await RawHttp.SendAsync(agent.BaseUri.Port, $"FROBNICATE /v1/invoke/orders/ping HTTP/1.1\r\nHost: 127.0.0.1:{agent.BaseUri.Port}\r\nContent-Length: 0");

        Assert.Equal([200, 200, 200], new[] { absolute.Status, byHost.Status, invoke.Status });
        Assert.Equal(3, orders.Count);
        Assert.Equal("FROBNICATE", orders.Last.Method);
    }

    [Fact]
    public async Task HttpClient_WithAWebProxy_ReachesTheService()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);
        using var client = new HttpClient(new HttpClientHandler { Proxy = new WebProxy(agent.BaseUri), UseProxy = true });

        var body = await client.GetStringAsync("http://orders/api/x");
        using var unknown = await client.GetAsync("http://billing/api/x");

        Assert.Equal("orders", body);
        Assert.Equal("/api/x", orders.Last.RawTarget);
        Assert.Equal("orders", orders.Last.Headers["X-Forwarded-Host"]);
        await ForwardingTests.AssertProblemAsync(unknown, HttpStatusCode.NotFound, "unknown-service");
    }

    [Fact]
    public async Task AHostHeaderNamingAService_IsForwarded()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, "GET /api/x?y=2 HTTP/1.1\r\nHost: orders:8078");

        Assert.Equal(200, answer.Status);
        Assert.Equal("orders", answer.Body.Trim());
        Assert.Equal("/api/x?y=2", orders.Last.RawTarget);
    }

    [Theory]
    [InlineData("127.0.0.1:{port}")]
    [InlineData("localhost:{port}")]
    [InlineData("[::1]:{port}")]
    [InlineData("app.localhost:{port}")]
    public async Task OtherHostHeaders_AreTheAgentsOwnApi(string host)
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, $"GET /ping HTTP/1.1\r\nHost: {host.Replace("{port}", agent.BaseUri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)}");

        Assert.Equal("pong", answer.Body);
        Assert.Equal(0, orders.Count);
    }

    [Theory]
    [InlineData("GET /v1/config HTTP/1.1\r\nHost: somebody-else")]
    [InlineData("GET /v1/invoke/orders/x HTTP/1.1\r\nHost: evil.example:{port}")]
    [InlineData("POST /proxy?vip=orders&path=/x HTTP/1.1\r\nHost: rebound.attacker.test\r\nContent-Length: 0")]
    [InlineData("GET /v1/config HTTP/1.1\r\nHost: 7f000001.c0a80001.rbndr.us:{port}")] // starts like an address, is a name
    [InlineData("GET /v1/config HTTP/1.1\r\nHost: 127.0.0.1.nip.io")]
    public async Task AHostNamingNeitherTheAgentNorAService_IsRefused_OnTheLoopbackApi(string request)
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, request.Replace("{port}", agent.BaseUri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));

        Assert.Equal(421, answer.Status);
        Assert.Equal("unknown-host", answer.Header("X-Sidecar-Error"));
        Assert.Equal(0, orders.Count);
    }

    [Theory]
    [InlineData("cross-site", 403)]
    [InlineData("same-site", 403)] // a page on another port of 127.0.0.1 is the same site, not the same origin
    [InlineData("same-origin", 200)]
    [InlineData("none", 200)]
    public async Task ARequestABrowserMakesForAnotherSite_IsRefused(string secFetchSite, int expected)
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port,
            $"POST /v1/invoke/orders/x HTTP/1.1\r\nHost: 127.0.0.1:{agent.BaseUri.Port}\r\nSec-Fetch-Site: {secFetchSite}\r\nContent-Type: text/plain\r\nContent-Length: 0");

        Assert.Equal(expected, answer.Status);
        Assert.Equal(expected == 200 ? 1 : 0, orders.Count);
        if (expected == 403)
        {
            Assert.Equal("cross-site-request", answer.Header("X-Sidecar-Error"));
        }
    }

    /// <summary>Issue 13, point 7: browsers too old for Sec-Fetch-* still send Origin; only the agent's own passes.</summary>
    [Theory]
    [InlineData("http://evil.example", 403)]
    [InlineData("https://evil.example", 403)]
    [InlineData("null", 403)] // a sandboxed frame, a file:// page
    [InlineData("http://127.0.0.1:1", 403)] // another port of this host
    [InlineData("http://localhost:{port}", 403)] // the agent under another name is another origin
    [InlineData("http://127.0.0.1:{port}", 200)]
    [InlineData("HTTP://127.0.0.1:{port}", 200)]
    public async Task ARequestWithAForeignOrigin_IsRefused_OnEveryRouteThatActs(string origin, int expected)
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);
        var port = agent.BaseUri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        origin = origin.Replace("{port}", port, StringComparison.Ordinal);

        foreach (var request in new[]
        {
            "POST /v1/invoke/orders/x HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 0",
            "GET /v1/config HTTP/1.1",
            "PUT /v1/registration/status HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n\r\n{\"status\":\"UP\"}",
        })
        {
            var head = request.Split("\r\n\r\n")[0];
            var body = request.Contains("\r\n\r\n", StringComparison.Ordinal) ? request.Split("\r\n\r\n")[1] : null;
            var answer = await RawHttp.SendAsync(agent.BaseUri.Port, $"{head}\r\nHost: 127.0.0.1:{port}\r\nOrigin: {origin}", body);

            Assert.True(answer.Status == expected, $"{head.Split("\r\n")[0]} with Origin {origin}: {answer.Status} {answer.Body}");
            if (expected == 403)
            {
                Assert.Equal("cross-site-request", answer.Header("X-Sidecar-Error"));
            }
        }

        Assert.Equal(expected == 200 ? 1 : 0, orders.Count);
    }

    [Theory]
    [InlineData("http://orders", 200)] // a page of the service itself, through the proxy
    [InlineData("http://evil.example", 403)]
    public async Task ThroughTheProxy_TheOriginMustBeTheTargetsOwn(string origin, int expected)
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, $"POST http://orders/x HTTP/1.1\r\nHost: orders\r\nOrigin: {origin}\r\nContent-Length: 0");

        Assert.Equal(expected, answer.Status);
        Assert.Equal(expected == 200 ? 1 : 0, orders.Count);
    }

    /// <summary>
    /// Issue 13, point 7: a dotted service name (a VIP, or a public name someone registered) could be the name a
    /// rebinding page points at 127.0.0.1; the Host form forwards single-label names only. The absolute form
    /// (HTTP_PROXY) and /v1/invoke still reach it.
    /// </summary>
    [Fact]
    public async Task ADottedServiceName_IsNotForwardedByTheHostForm_ButByTheProxyAndInvokeForms()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"evil.example={orders.Url}" });
        var port = agent.BaseUri.Port;

        var byHost = await RawHttp.SendAsync(port, $"GET /v1/config HTTP/1.1\r\nHost: evil.example:{port}");
        var byHostSameOrigin = await RawHttp.SendAsync(port, $"GET /x HTTP/1.1\r\nHost: evil.example:{port}\r\nSec-Fetch-Site: same-origin");
        Assert.Equal(0, orders.Count);
        Assert.Equal((421, 421), (byHost.Status, byHostSameOrigin.Status));
        Assert.Equal("unknown-host", byHost.Header("X-Sidecar-Error"));

        var absolute = await RawHttp.SendAsync(port, "GET http://evil.example/x HTTP/1.1\r\nHost: evil.example");
        var invoke = await RawHttp.SendAsync(port, $"GET /v1/invoke/evil.example/x HTTP/1.1\r\nHost: 127.0.0.1:{port}");
        Assert.Equal((200, 200), (absolute.Status, invoke.Status));
        Assert.Equal(2, orders.Count);
    }

    [Fact]
    public async Task AnAbsoluteTargetNamingTheAgentItself_IsItsApi_NotALoop()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);
        var self = $"127.0.0.1:{agent.BaseUri.Port}";

        var ping = await RawHttp.SendAsync(agent.BaseUri.Port, $"GET http://{self}/ping HTTP/1.1\r\nHost: {self}");
        var invoke = await RawHttp.SendAsync(agent.BaseUri.Port, $"GET http://{self}/v1/invoke/orders/a?b=1 HTTP/1.1\r\nHost: {self}");

        Assert.Equal("pong", ping.Body);
        Assert.Equal(200, invoke.Status);
        Assert.Equal("/a?b=1", orders.Last.RawTarget);
        Assert.Equal(1, orders.Count);
    }

    [Fact]
    public async Task Connect_IsRefused_WithAProblem()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync(orders);

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, "CONNECT orders:443 HTTP/1.1\r\nHost: orders:443");

        Assert.Equal(405, answer.Status);
        Assert.Equal("tunnel-not-supported", answer.Header("X-Sidecar-Error"));
        Assert.Equal("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", answer.Header("Allow")); // was dropped by Problems.WriteAsync
        Assert.Equal(0, orders.Count);
    }

    private static Task<(int ExitCode, string Output)> CurlAsync(params string[] args) => CurlAsync(null, args);

    private static async Task<(int ExitCode, string Output)> CurlAsync(int? httpProxyPort, params string[] args)
    {
        var start = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("http_proxy");
        start.Environment.Remove("HTTP_PROXY");
        start.Environment.Remove("no_proxy");
        start.Environment.Remove("NO_PROXY");
        if (httpProxyPort is { } port)
        {
            start.Environment["http_proxy"] = $"http://127.0.0.1:{port}";
        }

        start.ArgumentList.Add("--max-time");
        start.ArgumentList.Add("10");
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"curl failed ({process.ExitCode}): {error}");
        return (process.ExitCode, output);
    }
}

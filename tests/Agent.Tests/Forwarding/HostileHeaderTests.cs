using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Sidecar.Tests.Observability;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// Issue 13, points 2, 3, 4 and 10: header bytes a caller or an instance may send that HttpClient and
/// Kestrel do not take as they come (non-ASCII, control characters), an upgrade nobody asked for,
/// TRACE, and the client-address headers besides X-Forwarded-*. Checked on the wire, with raw sockets
/// on both sides of the agent.
/// </summary>
public sealed class HostileHeaderTests
{
    private static readonly byte[] Ok = RawUpstream.Latin1("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");

    private static Task<AgentHarness> StartAgentAsync(params RawUpstream[] instances) =>
        AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["ROUTES"] = "orders=" + string.Join(';', instances.Select(i => i.Url)),
            ["APP_HEALTH_URL"] = "",
        });

    // A request to the agent with one header whose value is exactly these bytes.
    private static string WithHeader(string name, byte[] value, string target = "/v1/invoke/orders/x") =>
        $"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{name}: {Encoding.Latin1.GetString(value)}";

    [Theory]
    [InlineData("UTF-8", new byte[] { 0x4a, 0x6f, 0x73, 0xc3, 0xa9 })] // José
    [InlineData("Latin-1", new byte[] { 0x4a, 0x6f, 0x73, 0xe9 })] // José, as older clients send it
    [InlineData("not UTF-8", new byte[] { 0x61, 0xff, 0xfe, 0x80 })]
    public async Task ANonAsciiRequestHeader_IsPassedOnAsTheSameBytes_NeverRetried_NeverAnInstanceFailure(string kind, byte[] value)
    {
        await using var a = RawUpstream.Start(_ => Ok);
        await using var b = RawUpstream.Start(_ => Ok);
        await using var agent = await StartAgentAsync(a, b);

        // Ten calls: before, each failed to send, was retried twice and counted against each instance tried (five ejected one).
        for (var i = 0; i < 10; i++)
        {
            var answer = await RawHttp.SendAsync(agent.BaseUri.Port, WithHeader("X-User", value));
            Assert.True(answer.Status == 200, $"{kind}: {answer.Status} {answer.Body}");
        }

        Assert.Equal(10, a.Count + b.Count);
        Assert.All(a.Heads.Concat(b.Heads), head => Assert.Equal(value, RawUpstream.HeaderBytes(head, "X-User")));
        var metrics = await Scrape.TakeAsync(agent);
        Assert.Equal(0, metrics.Samples.Where(s => s.Name == "sidecar_forward_retries_total").Sum(s => s.Value));
        Assert.Equal(0, metrics.Samples.Where(s => s.Name == "sidecar_forward_ejections_total").Sum(s => s.Value));
    }

    [Theory]
    [InlineData(0x01)]
    [InlineData(0x08)]
    [InlineData(0x0b)]
    [InlineData(0x0c)]
    [InlineData(0x1b)]
    [InlineData(0x1f)]
    [InlineData(0x7f)]
    public async Task AControlCharacterInAForwardedRequestHeader_IsRefusedWith400_AndNothingIsSent(byte control)
    {
        await using var orders = RawUpstream.Start(_ => Ok);
        await using var agent = await StartAgentAsync(orders);

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, WithHeader("X-Evil", [0x61, control, 0x62]));

        Assert.Equal(400, answer.Status);
        Assert.Equal("bad-request", answer.Header("X-Sidecar-Error"));
        Assert.Contains("X-Evil", answer.Body, StringComparison.Ordinal);
        Assert.Equal(0, orders.Count);
    }

    [Fact]
    public async Task ATabInAHeaderValue_IsForwarded()
    {
        await using var orders = RawUpstream.Start(_ => Ok);
        await using var agent = await StartAgentAsync(orders);

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, WithHeader("X-Tabbed", "a\tb"u8.ToArray()));

        Assert.Equal(200, answer.Status);
        Assert.Equal("a\tb"u8.ToArray(), RawUpstream.HeaderBytes(Assert.Single(orders.Heads), "X-Tabbed"));
    }

    [Fact]
    public async Task NonAsciiResponseHeaders_AreRelayedAsTheSameBytes_NeverA500()
    {
        // A UTF-8 filename in Content-Disposition (RFC 6266 says filename*, servers send this), and obs-text (Latin-1).
        var disposition = "attachment; filename=\"r\u00c3\u00a9sum\u00c3\u00a9.pdf\"";
        await using var orders = RawUpstream.Start(_ => RawUpstream.Latin1(
            $"HTTP/1.1 200 OK\r\nContent-Disposition: {disposition}\r\nX-Latin: caf\u00e9\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"));
        var logs = new LogCapture();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={orders.Url}", ["APP_HEALTH_URL"] = "" }, logs.Install);

        for (var i = 0; i < 3; i++)
        {
            var answer = await RawHttp.SendAsync(agent.BaseUri.Port, "GET /v1/invoke/orders/file HTTP/1.1\r\nHost: 127.0.0.1");

            Assert.Equal(200, answer.Status);
            Assert.Equal("ok", answer.Body);
            Assert.Equal(disposition, answer.Header("Content-Disposition")); // Latin-1 read: the very bytes the instance sent
            Assert.Equal("caf\u00e9", answer.Header("X-Latin"));
        }

        Assert.Equal(3, orders.Count);
        Assert.DoesNotContain(logs.Entries, e => e.StartsWith("Error", StringComparison.Ordinal) || e.Contains("   at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AResponseHeaderWithAControlCharacter_IsDropped_TheRestOfTheAnswerRelayed()
    {
        await using var orders = RawUpstream.Start(_ => RawUpstream.Latin1(
            "HTTP/1.1 200 OK\r\nX-Ctl: a\u0001b\r\nX-Del: a\u007fb\r\nX-Fine: yes\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"));
        var logs = new LogCapture();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={orders.Url}", ["APP_HEALTH_URL"] = "" }, logs.Install);

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, "GET /v1/invoke/orders/x HTTP/1.1\r\nHost: 127.0.0.1");

        Assert.Equal(200, answer.Status);
        Assert.Equal("ok", answer.Body);
        Assert.Equal("yes", answer.Header("X-Fine"));
        Assert.Null(answer.Header("X-Ctl"));
        Assert.Null(answer.Header("X-Del"));
        Assert.DoesNotContain(logs.Entries, e => e.StartsWith("Error", StringComparison.Ordinal) || e.Contains("   at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnUpgradeNobodyAskedFor_Is502_NotAOneWayStream()
    {
        await using var orders = RawUpstream.Start(_ => RawUpstream.Latin1(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw bytes of another protocol"));
        await using var agent = await StartAgentAsync(orders);

        using var response = await agent.Client.GetAsync("v1/invoke/orders/x");

        await ForwardingTests.AssertProblemAsync(response, HttpStatusCode.BadGateway, "bad-upstream-response");
        Assert.DoesNotContain("raw bytes", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUpgradeHeaderWithoutConnectionUpgrade_AsksForNothing_SoA101IsStill502()
    {
        await using var orders = RawUpstream.Start(_ => RawUpstream.Latin1(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw bytes of another protocol"));
        await using var agent = await StartAgentAsync(orders);
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/invoke/orders/x");
        request.Headers.TryAddWithoutValidation("Upgrade", "websocket");

        using var response = await agent.Client.SendAsync(request);

        await ForwardingTests.AssertProblemAsync(response, HttpStatusCode.BadGateway, "bad-upstream-response");
    }

    [Theory]
    [InlineData("TRACE /v1/invoke/orders/x HTTP/1.1", "127.0.0.1")]
    [InlineData("TRACE /proxy?vip=orders&path=/x HTTP/1.1", "127.0.0.1")]
    [InlineData("TRACE http://orders/x HTTP/1.1", "orders")]
    [InlineData("TRACE /x HTTP/1.1", "orders")]
    public async Task Trace_IsRefusedWith405_AndNeverReachesAnInstance(string line, string host)
    {
        await using var orders = RawUpstream.Start(_ => Ok);
        await using var agent = await StartAgentAsync(orders);

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, $"{line}\r\nHost: {host}\r\nCookie: session=secret\r\nAuthorization: Bearer secret");

        Assert.Equal(405, answer.Status);
        Assert.Equal("method-not-allowed", answer.Header("X-Sidecar-Error"));
        Assert.NotNull(answer.Header("Allow"));
        Assert.DoesNotContain("TRACE", answer.Header("Allow"), StringComparison.Ordinal);
        Assert.Equal(0, orders.Count);
    }

    [Fact]
    public async Task ForwardedAndXRealIp_FollowTheXForwardedRules_TheAgentsHopIsAppended_TheAddressReplaced()
    {
        await using var orders = RawUpstream.Start(_ => Ok);
        await using var agent = await StartAgentAsync(orders);

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port,
            "GET /v1/invoke/orders/x HTTP/1.1\r\nHost: 127.0.0.1:" + agent.BaseUri.Port +
            "\r\nForwarded: for=203.0.113.9;proto=https\r\nX-Real-IP: 198.51.100.66\r\nX-Forwarded-For: 203.0.113.9");
        Assert.Equal(200, answer.Status);

        var head = Assert.Single(orders.Heads);
        Assert.Equal("203.0.113.9, 127.0.0.1", Text(RawUpstream.HeaderBytes(head, "X-Forwarded-For")));
        Assert.Equal($"for=203.0.113.9;proto=https, for=127.0.0.1;host=\"127.0.0.1:{agent.BaseUri.Port}\";proto=http", Text(RawUpstream.HeaderBytes(head, "Forwarded")));
        Assert.Equal("127.0.0.1", Text(RawUpstream.HeaderBytes(head, "X-Real-IP")));

        // Without them, none is made up: X-Forwarded-* carry the same facts.
        await RawHttp.SendAsync(agent.BaseUri.Port, "GET /v1/invoke/orders/y HTTP/1.1\r\nHost: 127.0.0.1");
        var plain = orders.Heads[1];
        Assert.Null(RawUpstream.HeaderBytes(plain, "Forwarded"));
        Assert.Null(RawUpstream.HeaderBytes(plain, "X-Real-IP"));
    }

    /// <summary>
    /// The rest of point 2's review: what a caller can get wrong besides its headers (a body cut short,
    /// buffered or streamed; leaving while the instance works) is the caller's, six times over on two
    /// instances: no retry, no failure counted, no ejection, and both instances still get calls.
    /// </summary>
    [Fact]
    public async Task CallerFaults_AreNeverCountedAgainstAnInstance_NorRetried()
    {
        var upstreams = new List<Upstream>();
        for (var i = 0; i < 2; i++)
        {
            upstreams.Add(await Upstream.StartAsync("orders", async (context, _) =>
            {
                if (context.Request.Path == "/slow")
                {
                    await Task.Delay(TimeSpan.FromSeconds(5), context.RequestAborted);
                }

                await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
                await context.Response.WriteAsync("ok");
            }));
        }

        try
        {
            await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
            {
                ["ROUTES"] = "orders=" + string.Join(';', upstreams.Select(u => u.Url)),
                ["APP_HEALTH_URL"] = "",
                ["Forwarding__RetryBufferSize"] = "64KiB",
            });
            var port = agent.BaseUri.Port;
            for (var round = 0; round < 6; round++)
            {
                // A buffered body cut short: 1000 bytes declared, 10 sent.
                await SendAndLeaveAsync(port, "POST /v1/invoke/orders/small HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n" + new string('a', 10));

                // A streamed body cut short: 1 MiB declared, 200 KiB sent.
                await SendAndLeaveAsync(port, "POST /v1/invoke/orders/large HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048576\r\n\r\n" + new string('b', 200 * 1024));

                // A caller that leaves while the instance works on its GET.
                await SendAndLeaveAsync(port, "GET /v1/invoke/orders/slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            }

            await Eventually.TrueAsync(async () =>
            {
                var scrape = await Scrape.TakeAsync(agent);
                return scrape.Samples.Where(s => s.Name == "sidecar_forward_requests_total").Sum(s => s.Value) >= 18;
            }, "every call was answered or counted as left");
            var metrics = await Scrape.TakeAsync(agent);
            Assert.Equal(0, metrics.Samples.Where(s => s.Name == "sidecar_forward_retries_total").Sum(s => s.Value));
            Assert.Equal(0, metrics.Samples.Where(s => s.Name == "sidecar_forward_ejections_total").Sum(s => s.Value));
            Assert.Equal(0, metrics.Samples.Where(s => s.Name == "sidecar_forward_requests_total" && s.Labels["code"].StartsWith('5')).Sum(s => s.Value));

            var before = upstreams.Select(u => u.Count).ToArray();
            for (var i = 0; i < 20; i++)
            {
                using var response = await agent.Client.GetAsync("v1/invoke/orders/x");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            Assert.All(upstreams.Select((u, i) => u.Count - before[i]), calls => Assert.True(calls > 0, "an instance gets no calls any more"));
        }
        finally
        {
            foreach (var upstream in upstreams)
            {
                await upstream.DisposeAsync();
            }
        }
    }

    // Sends the bytes, then closes at once without waiting for an answer.
    private static async Task SendAndLeaveAsync(int port, string request)
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(Encoding.Latin1.GetBytes(request));
        await Task.Delay(50); // the agent has the head and part of the body: what a caller that crashes leaves behind
    }

    private static string? Text(byte[]? bytes) => bytes is null ? null : Encoding.Latin1.GetString(bytes);
}

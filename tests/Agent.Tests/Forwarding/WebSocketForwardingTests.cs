using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Observability;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// WebSocket through the agent (docs/forwarding.md#websocket-and-other-upgrades) with npm's ws on both ends
/// (ws-js/ws.js): an echo server as the instance, a client through each way in.
/// </summary>
public sealed class WebSocketForwardingTests
{
    private static readonly NodeScripts Ws = new(Repository.PathOf("tests", "Agent.Tests", "Forwarding", "ws-js"), "ws");
    private static readonly string Folder = Ws.Folder;

    [Theory]
    [InlineData("invoke")]
    [InlineData("proxy")]
    [InlineData("host")]
    public async Task TextAndBinaryFrames_FlowBothWays_AndTheClientCloses(string way)
    {
        await using var server = await EchoServer.StartAsync();
        await using var agent = await StartAgentAsync(server);

        var lines = await ClientAsync(agent, "echo", way);

        Assert.Equal("""{"open":true}|{"text":"hello"}|{"binary":[0,1,2,254,255]}""", string.Join('|', lines.Take(3).Select(l => l.GetRawText())));
        Assert.Equal(1000, lines[3].GetProperty("close").GetInt32());
        var seen = server.Handshakes();
        Assert.Equal("/echo", Assert.Single(seen).GetProperty("url").GetString());
        Assert.Equal("websocket", seen[0].GetProperty("headers").GetProperty("upgrade").GetString());
        Assert.StartsWith("1.1 sidecar-", seen[0].GetProperty("headers").GetProperty("via").GetString(), StringComparison.Ordinal);

        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(1, scrape.Value("sidecar_forward_upgrades_total", ("service", "orders"), ("outcome", "upgraded")));
        Assert.Equal(0, scrape.Value("sidecar_forward_upgrades_active", ("service", "orders")));
        Assert.True(scrape.Value("sidecar_forward_upgrade_bytes_total", ("service", "orders"), ("direction", "to_instance")) >= 20); // masked frames
        Assert.True(scrape.Value("sidecar_forward_upgrade_bytes_total", ("service", "orders"), ("direction", "to_caller")) >= 16);
        Assert.Equal(1, scrape.Value("sidecar_forward_requests_total", ("service", "orders"), ("method", "GET"), ("code", "101")));
    }

    [Fact]
    public async Task TheHandshake_IsASpanEndingWithThe101_WithTheAttemptsClientSpanUnderIt()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var server = await EchoServer.StartAsync();
        await using var agent = await StartAgentAsync(server, ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.Endpoint));

        // A trace of its own: the agents of tests running beside it in this process export their calls' spans too
        // (one ActivitySource per process).
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        await ClientAsync(agent, "echo", "invoke", traceParent: $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");

        var spans = await collector.SpansAsync(agent, traceId, 2);
        var call = Assert.Single(spans, s => s.Name == "GET orders");
        Assert.Equal(101L, call.Attributes["http.response.status_code"]);
        Assert.Equal("orders", call.Attributes["peer.service"]);
        Assert.Equal(0, call.StatusCode);
        var attempt = Assert.Single(spans, s => s.ParentSpanId == call.SpanId);
        Assert.Equal(3, attempt.Kind); // client
        Assert.Equal((long)server.Port, attempt.Attributes["server.port"]);
        Assert.Equal(101L, attempt.Attributes["http.response.status_code"]);
    }

    [Fact]
    public async Task TheInstanceCloses_AndTheClientGetsItsCloseCode()
    {
        await using var server = await EchoServer.StartAsync();
        await using var agent = await StartAgentAsync(server);

        var lines = await ClientAsync(agent, "server-close", "invoke");

        Assert.Equal(4000, lines[^1].GetProperty("close").GetInt32());
    }

    [Fact]
    public async Task AnIdleConnection_IsClosedAfterUpgradeIdleTimeout()
    {
        await using var server = await EchoServer.StartAsync();
        await using var agent = await StartAgentAsync(server, ("Forwarding__Services__orders__UpgradeIdleTimeout", "600ms"));

        var lines = await ClientAsync(agent, "hold", "host");

        Assert.Equal("hello", lines[1].GetProperty("text").GetString());
        Assert.Equal(1006, lines[^1].GetProperty("close").GetInt32()); // cut, no closing handshake
        Assert.InRange(lines[^1].GetProperty("ms").GetInt32(), 500, 10_000);
    }

    [Fact]
    public async Task ABusyConnection_IsClosedAtUpgradeMaxConnectionTime()
    {
        await using var server = await EchoServer.StartAsync();
        await using var agent = await StartAgentAsync(server, ("Forwarding__UpgradeIdleTimeout", "1m"), ("Forwarding__UpgradeMaxConnectionTime", "800ms"));

        var lines = await ClientAsync(agent, "hold", "proxy");

        Assert.Equal(1006, lines[^1].GetProperty("close").GetInt32());
        Assert.InRange(lines[^1].GetProperty("ms").GetInt32(), 700, 10_000);
    }

    [Fact]
    public async Task AnInstanceRefusingTheUpgrade_ItsAnswerIsPassedBackAsIs()
    {
        await using var server = await EchoServer.StartAsync();
        await using var agent = await StartAgentAsync(server);

        var line = Assert.Single(await ClientAsync(agent, "refused", "invoke"));

        Assert.Equal(426, line.GetProperty("status").GetInt32());
        Assert.Equal("not for you\n", line.GetProperty("body").GetString());
        Assert.Equal("yes", line.GetProperty("headers").GetProperty("x-refused").GetString());
        Assert.Equal(1, (await Scrape.TakeAsync(agent)).Value("sidecar_forward_upgrades_total", ("service", "orders"), ("outcome", "declined")));
    }

    [Fact]
    public async Task AnInstanceThatRefusesTheConnection_Is502_ProblemDetails_AfterTheConnectRetries()
    {
        await using var server = await EchoServer.StartAsync();
        var dead = LoopbackServer.RefusingPort();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders=http://127.0.0.1:{dead}" });

        var line = Assert.Single(await ClientAsync(agent, "echo", "invoke"));

        Assert.Equal(502, line.GetProperty("status").GetInt32());
        Assert.Equal("upstream-unreachable", line.GetProperty("headers").GetProperty("x-sidecar-error").GetString());
        var detail = JsonDocument.Parse(line.GetProperty("body").GetString()!).RootElement.GetProperty("detail").GetString();
        Assert.StartsWith("'orders' could not be reached (3 attempt(s)): Connection refused", detail, StringComparison.Ordinal);
        Assert.Equal(1, (await Scrape.TakeAsync(agent)).Value("sidecar_forward_upgrades_total", ("service", "orders"), ("outcome", "failed")));
    }

    [Fact]
    public async Task AConnectFailure_GoesToAnotherInstance()
    {
        await using var server = await EchoServer.StartAsync();
        var dead = LoopbackServer.RefusingPort();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["ROUTES"] = $"orders=http://127.0.0.1:{dead};http://127.0.0.1:{server.Port}",
        });

        for (var i = 0; i < 4; i++)
        {
            var lines = await ClientAsync(agent, "echo", "invoke");
            Assert.Equal(1000, lines[^1].GetProperty("close").GetInt32());
        }
    }

    [Fact]
    public async Task OnSigterm_NewUpgradesAreRefused_AndOpenOnesGetTheDrainTime()
    {
        await using var server = await EchoServer.StartAsync();
        await using var eureka = await FakeEureka.StartAsync();
        var environment = RegisteredAgent.Environment(eureka);
        environment["SIDECAR_DRAIN"] = "2s";
        environment["ROUTES"] = $"chat=http://127.0.0.1:{server.Port}";
        await using var agent = await RegisteredAgent.StartAsync(environment);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", "host-a:orders:8080") is not null, "the agent registered", TimeSpan.FromSeconds(20));

        var held = ClientAsync(agent, "hold", "invoke", "chat");
        await server.WaitForHandshakesAsync(1);
        var stopwatch = Stopwatch.StartNew();
        // What SIGTERM does: ApplicationStopping fires, then the host stops (the drain first).
        agent.Get<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().StopApplication();
        var stopping = agent.StopAsync(CancellationToken.None);
        await Task.Delay(300);

        // A raw handshake, not a second node client: node's start-up on a loaded machine can outlast the
        // drain, and the closed listener then refuses the connection instead of answering it.
        var refused = await RawHttp.SendAsync(agent.BaseUri.Port,
            "GET /v1/invoke/chat/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n" +
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==");
        Assert.Equal(503, refused.Status);
        Assert.Equal("draining", refused.Header("X-Sidecar-Error"));

        var lines = await held;
        var closedAfter = stopwatch.Elapsed;
        await stopping;
        Assert.Equal("hello", lines[1].GetProperty("text").GetString());
        Assert.True(lines[^1].TryGetProperty("close", out _), string.Join(" ", lines));
        Assert.InRange(closedAfter, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(20));
        Assert.Single(server.Handshakes());
    }

    private static Task<AgentHarness> StartAgentAsync(EchoServer server, params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string?> { ["ROUTES"] = $"orders=http://127.0.0.1:{server.Port}" };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return AgentHarness.StartAsync(environment);
    }

    private static async Task<List<JsonElement>> ClientAsync(AgentHarness agent, string mode, string way, string service = "orders", string? traceParent = null)
    {
        string[] arguments = ["ws.js", "client", mode, agent.BaseUri.Port.ToString(CultureInfo.InvariantCulture), service, way];
        var (_, stdout, stderr) = await Ws.NodeAsync(traceParent is null ? arguments : [.. arguments, traceParent], "the ws client");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        Assert.True(lines.Count > 0 && !lines[^1].TryGetProperty("error", out _), $"ws client: {stdout} {stderr}");
        return lines;
    }

    /// <summary>ws.js's echo server, the instance: its port, and the handshakes it accepted (from its stderr).</summary>
    private sealed class EchoServer : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly List<string> _handshakes = [];

        private EchoServer(Process process, int port)
        {
            _process = process;
            Port = port;
        }

        public int Port { get; }

        public static async Task<EchoServer> StartAsync()
        {
            await Ws.EnsureInstalledAsync();
            var process = Process.Start(new ProcessStartInfo("node", ["ws.js", "server"])
            {
                WorkingDirectory = Folder,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var first = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("the ws server printed nothing");
            var server = new EchoServer(process, JsonDocument.Parse(first).RootElement.GetProperty("port").GetInt32());
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { Length: > 0 } line)
                {
                    lock (server._handshakes)
                    {
                        server._handshakes.Add(line);
                    }
                }
            };
            process.BeginErrorReadLine();
            return server;
        }

        public List<JsonElement> Handshakes()
        {
            lock (_handshakes)
            {
                return [.. _handshakes.Select(l => JsonDocument.Parse(l).RootElement.Clone())];
            }
        }

        public async Task WaitForHandshakesAsync(int count)
        {
            for (var i = 0; i < 200 && Handshakes().Count < count; i++)
            {
                await Task.Delay(50);
            }

            Assert.True(Handshakes().Count >= count, "the ws server saw no handshake");
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}

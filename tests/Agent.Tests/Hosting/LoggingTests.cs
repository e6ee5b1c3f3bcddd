using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Hosting;

/// <summary>The real process's stdout: readable text by default, one JSON object per line with SIDECAR_LOG_FORMAT=json, one line per request.</summary>
public sealed partial class LoggingTests
{
    [Fact]
    public async Task JsonFormat_WritesOneJsonObjectPerLine_AndOneLinePerRequest()
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_LOG_FORMAT"] = "json",
            ["Sidecar__RequestLog"] = "all",
        });
        var port = (await agent.WaitForApiAsync()).Port; // port 0: the one the agent bound
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };

        await client.GetStringAsync("/v1/services?secret=s3cr3t");
        await agent.WaitForOutputAsync("GET /v1/services");

        var lines = agent.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            using var entry = JsonDocument.Parse(line);
            // The keys collectors read by themselves: an RFC 3339 UTC time, a level name, the message.
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", entry.RootElement.GetProperty("time").GetString());
            Assert.Contains(entry.RootElement.GetProperty("level").GetString(), new[] { "trace", "debug", "info", "warn", "error", "fatal" });
            Assert.Equal(JsonValueKind.String, entry.RootElement.GetProperty("message").ValueKind);
            Assert.StartsWith("Sidecar.", entry.RootElement.GetProperty("logger").GetString(), StringComparison.Ordinal);
            Assert.False(entry.RootElement.TryGetProperty("@t", out _));
        }

        var requestLine = Assert.Single(lines, l => l.Contains("GET /v1/services", StringComparison.Ordinal));
        using var request = JsonDocument.Parse(requestLine);
        Assert.StartsWith("GET /v1/services 200 ", request.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("info", request.RootElement.GetProperty("level").GetString());
        Assert.Equal(200, request.RootElement.GetProperty("StatusCode").GetInt32());
        Assert.DoesNotContain("s3cr3t", agent.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TextFormat_IsTheDefault()
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string> { ["SIDECAR_PORT"] = "0" });
        await agent.WaitForOutputAsync("listening on");

        var first = agent.Stdout.Split('\n')[0];
        Assert.Matches(TextLine(), first);
    }

    [Fact]
    public async Task JsonFormat_EveryLineOfARequest_CarriesItsTraceAndSpanIds()
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_LOG_FORMAT"] = "json",
            ["SIDECAR_LOG_LEVEL"] = "debug",
            ["APP_HEALTH_URL"] = "",
            // Nothing listens there: the call fails, and the forwarder writes a debug line of its own during the request.
            ["ROUTES"] = $"orders=http://127.0.0.1:{LoopbackServer.RefusingPort()}",
            ["Forwarding__Retries"] = "0",
        });
        var port = (await agent.WaitForApiAsync()).Port; // port 0: the one the agent bound
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        using var call = new HttpRequestMessage(HttpMethod.Get, "/v1/invoke/orders/x");
        call.Headers.TryAddWithoutValidation("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

        using var response = await client.SendAsync(call);
        await agent.WaitForOutputAsync("GET /v1/invoke/orders/x 502");

        var lines = agent.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains("Call to orders answered", StringComparison.Ordinal) || l.Contains("GET /v1/invoke/orders/x", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, lines.Count);
        foreach (var line in lines)
        {
            using var entry = JsonDocument.Parse(line);
            Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", entry.RootElement.GetProperty("trace_id").GetString());
            Assert.Equal("00f067aa0ba902b7", entry.RootElement.GetProperty("span_id").GetString());
        }

        using var request = JsonDocument.Parse(lines.Single(l => l.Contains("GET /v1/invoke", StringComparison.Ordinal)));
        Assert.Equal("orders", request.RootElement.GetProperty("Service").GetString());
        Assert.Equal(1, request.RootElement.GetProperty("Attempts").GetInt32());

        // A line written outside any request has no trace.
        using var first = JsonDocument.Parse(agent.Stdout.Split('\n')[0]);
        Assert.False(first.RootElement.TryGetProperty("trace_id", out _));
    }

    [Fact]
    public async Task JsonFormat_ACallWithoutATrace_IsLoggedWithTheTraceTheAgentStarted()
    {
        await using var upstream = await Forwarding.Upstream.StartAsync("orders");
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_LOG_FORMAT"] = "json",
            ["Sidecar__RequestLog"] = "all", // a 200 gets a line
            ["APP_HEALTH_URL"] = "",
            ["ROUTES"] = "orders=" + upstream.Url,
        });
        var port = (await agent.WaitForApiAsync()).Port; // port 0: the one the agent bound
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };

        await client.GetStringAsync("/v1/invoke/orders/x");
        await agent.WaitForOutputAsync("GET /v1/invoke/orders/x 200");

        using var entry = JsonDocument.Parse(agent.Stdout.Split('\n').Single(l => l.Contains("GET /v1/invoke/orders/x", StringComparison.Ordinal)));
        var sent = upstream.Last.Headers["traceparent"];
        Assert.Equal(sent.Substring(3, 32), entry.RootElement.GetProperty("trace_id").GetString());
        Assert.Equal(sent.Substring(36, 16), entry.RootElement.GetProperty("span_id").GetString());
    }

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d (INF|WRN|ERR|DBG|VRB|FTL) Sidecar\.[A-Za-z.]+: .+$")]
    private static partial Regex TextLine();
}

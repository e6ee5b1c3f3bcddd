using System.Globalization;
using Microsoft.AspNetCore.Http;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Hosting;

/// <summary>Sidecar:RequestLog: every request, only errors (the default), or none.</summary>
public sealed class RequestLoggingTests
{
    private static async Task<(AgentHarness Agent, LogCapture Logs, LoopbackServer Upstream)> StartAsync(string? mode)
    {
        // The upstream answers with the status named by its path: /status/503.
        var upstream = await LoopbackServer.StartAsync(context =>
        {
            context.Response.StatusCode = int.Parse(context.Request.Path.Value!.Split('/')[^1], CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        });
        var logs = new LogCapture();
        var environment = new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = "",
            ["ROUTES"] = $"orders=http://127.0.0.1:{upstream.Port}",
            ["Forwarding__Retries"] = "0",
        };
        if (mode is not null)
        {
            environment["Sidecar__RequestLog"] = mode;
        }

        var agent = await AgentHarness.StartAsync(environment, logs.Install);
        return (agent, logs, upstream);
    }

    private static string[] RequestLines(LogCapture logs) =>
        [.. logs.Entries.Where(e => e.Contains("RequestLoggingMiddleware [1]", StringComparison.Ordinal) || e.Contains("RequestLoggingMiddleware [6]", StringComparison.Ordinal))];

    [Fact]
    public async Task Errors_LogsOnlyTheAgentsProblemsAnd5xx()
    {
        var (agent, logs, upstream) = await StartAsync("errors");
        await using (upstream)
        await using (agent)
        {
            Assert.Equal(200, (int)(await agent.Client.GetAsync("/ping")).StatusCode);
            Assert.Equal(404, (int)(await agent.Client.GetAsync("/v1/invoke/orders/status/404")).StatusCode);
            Assert.Equal(404, (int)(await agent.Client.GetAsync("/v1/invoke/nobody/x")).StatusCode);
            Assert.Equal(503, (int)(await agent.Client.GetAsync("/v1/invoke/orders/status/503")).StatusCode);

            await Eventually.TrueAsync(() => RequestLines(logs).Length == 2, "two request lines are logged");
            var lines = RequestLines(logs);
            Assert.Contains(lines, l => l.Contains("GET /v1/invoke/nobody/x 404", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("GET /v1/invoke/orders/status/503 503", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.Contains("/ping", StringComparison.Ordinal) || l.Contains("status/404", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task ByDefault_OnlyErrorsAreLogged()
    {
        var (agent, logs, upstream) = await StartAsync(null);
        await using (upstream)
        await using (agent)
        {
            await agent.Client.GetAsync("/v1/services");
            await agent.Client.GetAsync("/v1/invoke/orders/status/204");
            Assert.Equal(404, (int)(await agent.Client.GetAsync("/v1/invoke/nobody/x")).StatusCode);

            // HTTP/1.1 on one connection: once the last line is in, the requests before it have finished logging.
            await Eventually.TrueAsync(() => RequestLines(logs).Any(l => l.Contains("GET /v1/invoke/nobody/x 404", StringComparison.Ordinal)), "the agent's own problem is logged");
            Assert.Single(RequestLines(logs));
        }
    }

    [Fact]
    public async Task All_LogsEveryRequest_OneLineEach()
    {
        var (agent, logs, upstream) = await StartAsync("all");
        await using (upstream)
        await using (agent)
        {
            await agent.Client.GetAsync("/v1/services");
            await agent.Client.GetAsync("/v1/invoke/orders/status/204");

            await Eventually.TrueAsync(() => RequestLines(logs).Length == 2, "two request lines are logged");
            Assert.Contains(RequestLines(logs), l => l.Contains("GET /v1/services 200", StringComparison.Ordinal));
            Assert.Contains(RequestLines(logs), l => l.Contains("GET /v1/invoke/orders/status/204 204", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task None_LogsNoRequest_EvenAFailure()
    {
        var (agent, logs, upstream) = await StartAsync("none");
        await using (upstream)
        await using (agent)
        {
            Assert.Equal(StatusCodes.Status503ServiceUnavailable, (int)(await agent.Client.GetAsync("/v1/invoke/orders/status/503")).StatusCode);
            Assert.Equal(StatusCodes.Status404NotFound, (int)(await agent.Client.GetAsync("/no-such-route")).StatusCode);

            // HTTP/1.1 on one connection: once this answer is in, the requests before it have finished logging.
            await agent.Client.GetAsync("/ping");
            Assert.Empty(RequestLines(logs));
        }
    }

    [Fact]
    public async Task AnEncodedNewlineInThePath_CannotForgeALogLine()
    {
        var (agent, logs, upstream) = await StartAsync("all");
        await using (upstream)
        await using (agent)
        {
            await agent.Client.GetAsync("/nope%0a12:00:00.000%20INF%20forged%0d");

            await Eventually.TrueAsync(() => RequestLines(logs).Length == 1, "the request is logged");
            var line = Assert.Single(RequestLines(logs));
            Assert.DoesNotContain('\n', line);
            Assert.DoesNotContain('\r', line);
            Assert.Contains("/nope\\u000a12:00:00.000 INF forged\\u000d", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Probes_AreNotLogged_EvenWithAll()
    {
        var (agent, logs, upstream) = await StartAsync("all");
        await using (upstream)
        await using (agent)
        {
            foreach (var path in new[] { "/ping", "/healthcheck", "/status", "/v1/health", "/v1/health/live", "/v1/health/ready", "/v1/health/ready/", "/metrics" })
            {
                await agent.Client.GetAsync(path);
            }

            // HTTP/1.1 on one connection: once this answer is in, the requests before it have finished logging.
            await agent.Client.GetAsync("/v1/services");
            await Eventually.TrueAsync(() => RequestLines(logs).Length >= 1, "the last request is logged");
            Assert.Contains("GET /v1/services 200", Assert.Single(RequestLines(logs)), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Probes_AreLogged_WithSidecarLogProbes()
    {
        var logs = new LogCapture();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "", ["SIDECAR_LOG_PROBES"] = "true", ["Sidecar__RequestLog"] = "all" }, logs.Install);

        await agent.Client.GetAsync("/v1/health/live");

        await Eventually.TrueAsync(() => RequestLines(logs).Any(l => l.Contains("GET /v1/health/live 200", StringComparison.Ordinal)), "the probe is logged");
    }

    [Fact]
    public async Task AForwardedCall_NamesItsServiceAndAttempts_OnItsLine()
    {
        var (agent, logs, upstream) = await StartAsync("all");
        await using (upstream)
        await using (agent)
        {
            await agent.Client.GetAsync("/v1/invoke/orders/status/204");

            await Eventually.TrueAsync(() => RequestLines(logs).Length == 1, "the call is logged");
            Assert.Contains("GET /v1/invoke/orders/status/204 204 ", RequestLines(logs)[0], StringComparison.Ordinal);
            Assert.Contains(" ms -> orders, 1 attempt(s)", RequestLines(logs)[0], StringComparison.Ordinal);
        }
    }
}

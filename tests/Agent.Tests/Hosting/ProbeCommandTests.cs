using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Hosting;

/// <summary><c>agent wait</c> and <c>agent health</c>, as real processes against a real agent or a scripted one.</summary>
public sealed class ProbeCommandTests
{
    private static Dictionary<string, string> At(int port) => new() { ["SIDECAR_PORT"] = port.ToString(CultureInfo.InvariantCulture) };

    [Fact]
    public async Task Wait_AsksLivenessUntilItAnswers200_ThenExits0()
    {
        var live = false;
        var asked = new ConcurrentQueue<string>();
        await using var agent = await LoopbackServer.StartAsync(context =>
        {
            asked.Enqueue(context.Request.Path.Value!);
            context.Response.StatusCode = Volatile.Read(ref live) ? 200 : 503;
            return Task.CompletedTask;
        });

        await using var wait = AgentProcess.Start(At(agent.Port), "wait", "--timeout", "30s");
        await Eventually.TrueAsync(() => asked.Count >= 3, "wait asked several times");
        Assert.False(wait.HasExited, "wait goes on while the agent is not live");

        Volatile.Write(ref live, true);

        Assert.Equal(0, await wait.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.All(asked, path => Assert.Equal("/v1/health/live", path));
        Assert.Equal("", wait.Stderr);
    }

    [Fact]
    public async Task Wait_AgainstTheRealAgent_Exits0()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "" });

        await using var wait = AgentProcess.Start(At(agent.BaseUri.Port), "wait");

        Assert.Equal(0, await wait.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Wait_WhenTheAgentIsNotLiveInTime_Exits1_WithOneLine()
    {
        await using var agent = await LoopbackServer.StartAsync(context =>
        {
            context.Response.StatusCode = 503;
            return Task.CompletedTask;
        });

        // 3 s, not less: the first question (a new process's first HttpClient call) must fit in it on a loaded machine.
        await using var wait = AgentProcess.Start(At(agent.Port), "wait", "--timeout", "3s");

        Assert.Equal(1, await wait.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal($"agent wait: http://127.0.0.1:{agent.Port}/v1/health/live did not answer 200 within 3s (last: answered 503)", wait.Stderr.TrimEnd());
    }

    [Theory]
    [InlineData(new string[0], "/v1/health/live", 200, 0)]
    [InlineData(new[] { "--ready" }, "/v1/health/ready", 200, 0)]
    [InlineData(new[] { "--ready" }, "/v1/health/ready", 503, 1)]
    [InlineData(new string[0], "/v1/health/live", 500, 1)]
    public async Task Health_AsksOnce_AndExits0Only_On200(string[] args, string path, int status, int code)
    {
        var asked = new ConcurrentQueue<string>();
        await using var agent = await LoopbackServer.StartAsync(context =>
        {
            asked.Enqueue(context.Request.Path.Value!);
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        });

        await using var health = AgentProcess.Start(At(agent.Port), ["health", .. args]);

        Assert.Equal(code, await health.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal([path], asked);
        Assert.Equal(code == 0 ? "" : $"agent health: http://127.0.0.1:{agent.Port}{path} answered {status}", health.Stderr.TrimEnd());
    }

    [Fact]
    public async Task Health_FindsAnAgentBoundToTheAnyAddress_OnLoopback()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "" });
        var environment = At(agent.BaseUri.Port);
        environment["SIDECAR_BIND_ADDRESS"] = "0.0.0.0";

        await using var health = AgentProcess.Start(environment, "health");

        Assert.Equal(0, await health.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    [Theory]
    [InlineData("wait", "--timeout", "soon", "agent: --timeout 'soon' is not a positive duration (examples: 500ms, 5s, 2m)")]
    [InlineData("health", "--verbose", null, "agent: unknown argument '--verbose'; run 'agent health --help'")]
    [InlineData("wait", "--ready", null, "agent: unknown argument '--ready'; run 'agent wait --help'")]
    public async Task ABadArgument_IsOneLine_AndExitCode2(string command, string arg, string? value, string expected)
    {
        await using var process = AgentProcess.Start(At(8078), value is null ? [command, arg] : [command, arg, value]);

        Assert.Equal(2, await process.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(expected, process.Stderr.TrimEnd());
    }

    [Fact]
    public async Task ABadSidecarPort_IsOneLine_AndExitCode2()
    {
        await using var process = AgentProcess.Start(new Dictionary<string, string> { ["SIDECAR_PORT"] = "http" }, "health");

        Assert.Equal(2, await process.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal("agent: invalid configuration: SIDECAR_PORT (Sidecar:Port): 'http' is not a port (1-65535)", process.Stderr.TrimEnd());
    }

    [Fact]
    public async Task Help_ListsEveryCommand_AndVersionShowsTheCommit()
    {
        await using var help = AgentProcess.Start(new Dictionary<string, string>(), "--help");
        Assert.Equal(0, await help.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        foreach (var command in new[] { "agent run", "agent wait", "agent health", "agent registry", "--version", "EUREKA_URLS", "SIDECAR_METRICS_PORT", "/v1/settings" })
        {
            Assert.Contains(command, help.Stdout, StringComparison.Ordinal);
        }

        await using var version = AgentProcess.Start(new Dictionary<string, string>(), "--version");
        Assert.Equal(0, await version.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Matches(@"^agent \d+\.\d+\.\d+\S* \(commit ([0-9a-f]{12}|unknown)\)$", version.Stdout.TrimEnd());
    }
}

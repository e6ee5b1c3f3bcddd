using Sidecar.Tests.Support;

namespace Sidecar.Tests.Configuration;

/// <summary>The real process: a bad setting ends it with exit code 2 and one line on stderr, never a stack trace.</summary>
public sealed class ConfigurationErrorTests
{
    [Theory]
    [InlineData("APP_PORT", "abc", "agent: invalid configuration: APP_PORT (App:Port): 'abc' is not a port (1-65535)")]
    [InlineData("APP_HEALTH_INTERVAL", "-1s", "agent: invalid configuration: APP_HEALTH_INTERVAL (App:Health:Interval): '-1s' must be between 100ms and 1h")]
    [InlineData("SIDECAR_PORT", "70000", "agent: invalid configuration: SIDECAR_PORT (Sidecar:Port): '70000' is not a port (1-65535)")]
    [InlineData("Sidecar__Port", "x", "agent: invalid configuration: SIDECAR_PORT (Sidecar:Port): 'x' is not a port (1-65535)")]
    [InlineData("APP_PORT", "abc\nagent: forged", "agent: invalid configuration: APP_PORT (App:Port): 'abc\\u000aagent: forged' is not a port (1-65535)")]
    [InlineData("SPRING_APPLICATION_NAME", "a/b", "agent: invalid configuration: SPRING_APPLICATION_NAME (App:Name): 'a/b' may hold only letters, digits, '-', '_' and '.'")]
    [InlineData("SIDECAR_LOG_FORMAT", "text,json", "agent: invalid configuration: SIDECAR_LOG_FORMAT (Sidecar:LogFormat): 'text,json' is not one of text, json")]
    [InlineData("APP_PORT", "8078", "agent: invalid configuration: APP_PORT (App:Port): '8078' is the agent's own API port (SIDECAR_PORT): the agent would probe itself")]
    [InlineData("Forwarding__Services__orders__CircuitBreakerFailureRatio", "1.5", "agent: invalid configuration: Forwarding:Services:orders:CircuitBreakerFailureRatio: '1.5' is not a ratio above 0 and at most 1 (such as 0.5)")]
    [InlineData("Forwarding__MaxConcurrentRequests", "-2", "agent: invalid configuration: Forwarding:MaxConcurrentRequests: '-2' is not a whole number between 0 and 1000000")]
    public async Task ABadValue_ExitsWithCode2AndOneLineNamingTheVariable(string variable, string value, string expected)
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string> { [variable] = value });

        var exitCode = await agent.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, exitCode);
        Assert.Equal(expected, agent.Stderr.TrimEnd());
        Assert.DoesNotContain("   at ", agent.Stdout + agent.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownCommand_ExitsWithCode2()
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string>(), "frobnicate");

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("agent: unknown command 'frobnicate'; run 'agent --help'", agent.Stderr.TrimEnd());
    }

    [Fact]
    public async Task APortInUse_ExitsWithCode2AndOneLine()
    {
        await using var busy = await LoopbackServer.StartAsync(_ => Task.CompletedTask);
        await using var agent = AgentProcess.Start(new Dictionary<string, string> { ["SIDECAR_PORT"] = busy.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) });

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var line = Assert.Single(agent.Stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("agent: cannot listen: ", line, StringComparison.Ordinal);
        Assert.Contains(busy.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SigTerm_StopsTheAgentWithExitCode0()
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string> { ["SIDECAR_PORT"] = "0" });
        await agent.WaitForOutputAsync("listening on");

        agent.Terminate();

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}

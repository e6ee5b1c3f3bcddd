using System.Globalization;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Hosting;

/// <summary>SIGTERM before the agent has finished starting (real processes): what a container runtime does to a pod that is being replaced.</summary>
public sealed class StopWhileStartingTests
{
    [Fact]
    public async Task SigTerm_WhileFailFastRetriesTheConfigServer_ExitsCleanlyWithCode0()
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["CONFIG_SERVER_URLS"] = $"http://127.0.0.1:{LoopbackServer.RefusingPort()}/",
            ["APP_NAME"] = "orders",
            ["CONFIG_FAIL_FAST"] = "true",
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
            ["SIDECAR_PORT"] = "0",
        });
        await agent.WaitForOutputAsync("Config load attempt 1/6 failed");

        agent.Terminate();

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("", agent.Stderr);
        Assert.DoesNotContain("   at ", agent.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", agent.Stdout, StringComparison.Ordinal);
        Assert.Contains("Stop requested while starting", agent.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SigTerm_DuringASlowFirstConfigFetch_ExitsCleanly_AndLeavesNothingRegistered()
    {
        await using var config = await FakeConfigServer.StartAsync();
        config.Delay = TimeSpan.FromMinutes(1);
        await using var eureka = await FakeEureka.StartAsync();
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["CONFIG_SERVER_URLS"] = config.BaseUri.AbsoluteUri,
            ["APP_NAME"] = "orders",
            ["APP_PORT"] = LoopbackServer.RefusingPort().ToString(CultureInfo.InvariantCulture),
            ["APP_HEALTH_URL"] = "",
            ["EUREKA_URLS"] = eureka.ServiceUrl.AbsoluteUri,
            ["EUREKA_INSTANCE_ID"] = "orders-1",
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
            ["SIDECAR_PORT"] = "0",
        });
        await Eventually.TrueAsync(() => config.Requests.Count > 0 || agent.HasExited, "the first fetch began");

        agent.Terminate();

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("", agent.Stderr);
        Assert.DoesNotContain("   at ", agent.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("listening on", agent.Stdout, StringComparison.Ordinal);
        Assert.Null(eureka.Instance("ORDERS", "orders-1")); // never registered, or cancelled
    }
}

using System.Globalization;
using System.Net;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.DevRegistry;

/// <summary><c>agent registry</c>: the dev registry as a real process, and an agent registering with it.</summary>
public sealed class RegistryCommandTests
{
    [Fact]
    public async Task Registry_SaysDevelopmentOnly_AndServesTheEurekaApi_ToARealAgent()
    {
        var port = LoopbackServer.FreePort();
        await using var registry = AgentProcess.Start(new Dictionary<string, string>(), "registry", "--port", port.ToString(CultureInfo.InvariantCulture));
        await registry.WaitForOutputAsync("development only");
        Assert.Contains($"EUREKA_URLS=http://127.0.0.1:{port}/eureka/", registry.Stdout, StringComparison.Ordinal);

        var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_NAME"] = "orders",
            ["APP_PORT"] = "8080",
            ["APP_HOST"] = "host-a",
            ["APP_HEALTH_URL"] = "",
            ["EUREKA_URLS"] = $"http://127.0.0.1:{port}/eureka/",
            ["SIDECAR_DRAIN"] = "0s",
            ["SIDECAR_DATA_DIR"] = Fakes.RegisteredAgent.NewDataDir(),
        });

        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        client.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        try
        {
            await Eventually.TrueAsync(async () => (await client.GetAsync("eureka/apps/ORDERS")).StatusCode == HttpStatusCode.OK, "the agent registered with the dev registry");
            Assert.Contains("host-a:orders:8080", await client.GetStringAsync("/"), StringComparison.Ordinal);
        }
        finally
        {
            await agent.DisposeAsync();
        }

        // Stopping the agent cancelled its lease.
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("eureka/apps/ORDERS")).StatusCode);
        registry.Terminate();
        Assert.Equal(0, await registry.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Theory]
    [InlineData("--port", "http")]
    [InlineData("--port", "70000")]
    [InlineData("--bind", "somewhere")]
    [InlineData("--color", "blue")]
    public async Task Registry_WithABadOption_ExitsWithCode2AndOneLine(string option, string value)
    {
        await using var registry = AgentProcess.Start(new Dictionary<string, string>(), "registry", option, value);

        Assert.Equal(2, await registry.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var line = Assert.Single(registry.Stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("agent: ", line, StringComparison.Ordinal);
        Assert.Contains(option, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registry_Help_PrintsUsage()
    {
        await using var registry = AgentProcess.Start(new Dictionary<string, string>(), "registry", "--help");

        Assert.Equal(0, await registry.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("development and demos only", registry.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Registry_Options_AreParsed()
    {
        Assert.True(Sidecar.DevRegistry.DevRegistryCommand.TryParse(["--port=9000", "--bind", "0.0.0.0"], out var port, out var bind, out _));
        Assert.Equal(9000, port);
        Assert.Equal(IPAddress.Any, bind);
        Assert.True(Sidecar.DevRegistry.DevRegistryCommand.TryParse([], out port, out bind, out _));
        Assert.Equal(8761, port);
        Assert.Equal(IPAddress.Loopback, bind);
    }
}

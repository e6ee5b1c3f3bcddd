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
        await using var registry = AgentProcess.Start(new Dictionary<string, string>(), "registry", "--port", "0");
        await registry.WaitForOutputAsync("development only");
        var port = PrintedPort(registry); // --port 0: the port it bound, as it tells the user to set EUREKA_URLS

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

    [Fact]
    public async Task Registry_WithSidecarLogFormatJson_WritesOnlyJsonLines()
    {
        await using var registry = AgentProcess.Start(new Dictionary<string, string> { ["SIDECAR_LOG_FORMAT"] = "json" },
            "registry", "--port", "0");
        await registry.WaitForOutputAsync("development only");
        var port = PrintedPort(registry);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/eureka/") };

        using var register = await client.PostAsync("apps/ORDERS", new StringContent("""
            {"instance":{"instanceId":"host-a:orders:8080","app":"ORDERS","hostName":"host-a","ipAddr":"10.0.0.5","status":"UP",
             "dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}
            """, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NoContent, register.StatusCode);
        await registry.WaitForOutputAsync("Registered");

        var lines = registry.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, line =>
        {
            using var entry = System.Text.Json.JsonDocument.Parse(line);
            Assert.Equal(System.Text.Json.JsonValueKind.String, entry.RootElement.GetProperty("message").ValueKind);
        });
        Assert.Contains(lines, l => l.Contains($"EUREKA_URLS=http://127.0.0.1:{port}/eureka/", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Registered ORDERS/host-a:orders:8080 as UP", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Registry_WithABadLogLevel_ExitsWithCode2_NamingTheVariable()
    {
        await using var registry = AgentProcess.Start(new Dictionary<string, string> { ["SIDECAR_LOG_LEVEL"] = "loud" }, "registry", "--port", "0");

        Assert.Equal(2, await registry.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var line = Assert.Single(registry.Stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("agent: ", line, StringComparison.Ordinal);
        Assert.Contains("SIDECAR_LOG_LEVEL", line, StringComparison.Ordinal);
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

    private static int PrintedPort(AgentProcess registry)
    {
        var match = System.Text.RegularExpressions.Regex.Match(registry.Stdout, @"EUREKA_URLS=http://127\.0\.0\.1:(?<port>\d+)/eureka/");
        Assert.True(match.Success, $"the registry printed EUREKA_URLS; stdout: {registry.Stdout}");
        return int.Parse(match.Groups["port"].Value, CultureInfo.InvariantCulture);
    }
}

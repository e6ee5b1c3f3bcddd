using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Health;

/// <summary>SIDECAR_READINESS: what /v1/health/ready requires.</summary>
public sealed class ReadinessSettingTests
{
    private static async Task<AgentHarness> StartAsync(string? readiness, bool appHealthy)
    {
        var environment = new Dictionary<string, string?> { ["APP_PORT"] = "8080" };
        if (readiness is not null)
        {
            environment["SIDECAR_READINESS"] = readiness;
        }

        var agent = await AgentHarness.StartAsync(environment, services => services.AddSingleton<IAppHealthProbe>(new FakeAppHealthProbe(appHealthy)));
        await agent.Get<AppHealthMonitor>().ProbeOnceAsync(CancellationToken.None);
        return agent;
    }

    [Theory]
    [InlineData(null, HttpStatusCode.ServiceUnavailable)]
    [InlineData("app,registration,config", HttpStatusCode.ServiceUnavailable)]
    [InlineData("config", HttpStatusCode.OK)]
    [InlineData("none", HttpStatusCode.OK)]
    public async Task Readiness_RequiresWhatTheSettingNames(string? readiness, HttpStatusCode expected)
    {
        await using var agent = await StartAsync(readiness, appHealthy: false);

        using var response = await agent.Client.GetAsync("/v1/health/ready");

        Assert.Equal(expected, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var app = document.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "app");
        Assert.False(app.GetProperty("ready").GetBoolean()); // shown as it is, required or not
        Assert.Equal(readiness is null || readiness.Contains("app", StringComparison.Ordinal), app.GetProperty("required").GetBoolean());
    }

    [Fact]
    public async Task ANameThatIsNotACheck_IsAConfigurationError()
    {
        var error = await Assert.ThrowsAsync<Sidecar.Configuration.InvalidConfigurationException>(() => StartAsync("app,eureka", appHealthy: true));

        Assert.Contains("SIDECAR_READINESS (Sidecar:Readiness): 'eureka' is not one of app, registration, registry, config (or none)", error.Errors);
    }
}

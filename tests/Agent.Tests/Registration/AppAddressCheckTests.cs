using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sidecar.Registration;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

/// <summary>The warning at start when the app passes its loopback probe but refuses connections on the address registered in Eureka.</summary>
public sealed class AppAddressCheckTests
{
    private const string Warning = "refuses connections on";

    private static async Task<(AgentHarness Agent, LogCapture Logs)> StartAsync(FakeEureka eureka, int appPort, string appIp)
    {
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_PORT"] = appPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment["APP_IP"] = appIp;
        environment["APP_HEALTH_URL"] = $"http://127.0.0.1:{appPort}/health";
        var logs = new LogCapture();
        var agent = await RegisteredAgent.StartAsync(environment, logs: logs);
        await agent.Get<AppAddressCheck>().Checked.WaitAsync(TimeSpan.FromSeconds(20));
        return (agent, logs);
    }

    [Fact]
    public async Task AnAppBoundToLoopbackOnly_IsAWarning_WhenTheRegisteredAddressRefuses()
    {
        await using var eureka = await FakeEureka.StartAsync();
        await using var app = await FakeApp.StartAsync(); // listens on 127.0.0.1 only

        // 127.0.0.2 is this machine too, where the app does not listen: what a pod IP is to an app bound to 127.0.0.1.
        var (agent, logs) = await StartAsync(eureka, app.Port, "127.0.0.2");
        await using (agent)
        {
            Assert.True(logs.Contains($"The app answers its health probe on 127.0.0.1:{app.Port} but refuses connections on 127.0.0.2:{app.Port}"), logs.Text);
        }
    }

    [Fact]
    public async Task AnAppBoundToEveryAddress_IsNoWarning()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Any, 0));
        await using var app = builder.Build();
        app.Run(context => context.Response.WriteAsync("{\"status\":\"UP\"}"));
        await app.StartAsync();
        var port = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First().Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)).Port;

        var (agent, logs) = await StartAsync(eureka, port, "127.0.0.2");
        await using (agent)
        {
            Assert.False(logs.Contains(Warning), logs.Text);
        }
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("http://127.0.0.1:8080/health", "10.0.0.5", true, true)]
    [InlineData("http://127.0.0.1:8080/health", "10.0.0.5", false, false)] // not this host's: not ours to connect to
    [InlineData("http://127.0.0.1:8080/health", "127.0.0.1", true, false)] // the probe's own address
    [InlineData("http://10.0.0.5:8080/health", "10.0.0.5", true, false)] // the probe does not go to loopback
    [InlineData("http://localhost:8080/health", "10.0.0.5", true, false)] // a name: not resolved here
    [InlineData("http://[::1]:8080/health", "fd00::5", true, true)]
    [InlineData(null, "10.0.0.5", true, false)] // no probe
    public void TheCheck_RunsOnlyWhenTheProbeIsOnLoopback_AndTheRegisteredAddressIsAnotherOfThisHost(string? probe, string ip, bool own, bool checks)
    {
        Assert.Equal(checks, AppAddressCheck.ShouldCheck(probe is null ? null : new Uri(probe), ip, _ => own, out _));
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void AnAddressOfAnotherHost_IsNotThisHosts()
    {
        Assert.True(AppAddressCheck.IsOwnAddress(IPAddress.Parse("127.0.0.2")));
        Assert.False(AppAddressCheck.IsOwnAddress(IPAddress.Parse("192.0.2.1"))); // TEST-NET-1: never assigned
    }
}

using System.Net;
using Sidecar.Health;
using Sidecar.Registration;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

/// <summary>Register, renew and re-register against the fake Eureka, on a fake clock; the registration's readiness.</summary>
public sealed class RegistrationLifecycleTests
{
    private const string Id = "host-a:orders:8080";

    [Fact]
    public async Task Register_IsStartingUntilTheFirstHealthyProbe_ThenUpAtOnce()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var probe = new FakeAppHealthProbe(healthy: false);
        await using var agent = await RegisteredAgent.StartAsync(RegisteredAgent.Environment(eureka), time, probe);

        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id) is not null, "the agent registered");
        Assert.Equal(InstanceStatus.Starting, eureka.Instance("ORDERS", Id)!.Status);

        probe.Healthy = true;
        await agent.Get<AppHealthMonitor>().ProbeOnceAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "UP reached Eureka without any time passing");
    }

    [Fact]
    public async Task Register_WithHealthDisabled_IsUpAtOnce()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment, time);

        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id) is not null, "the agent registered");
        Assert.Equal(InstanceStatus.Up, eureka.Instance("ORDERS", Id)!.Status);
        Assert.Single(eureka.RequestsFor("POST"));
    }

    [Fact]
    public async Task Renew_RunsEveryInterval_WithStatusAndLastDirtyTimestamp()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment, time);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id) is not null, "the agent registered");
        var dirty = eureka.Instance("ORDERS", Id)!.LastDirtyTimestamp;

        var first = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(40), () => RegistrationRequests.Renewals(eureka).Count == 1, "the first renew");
        var second = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(40), () => RegistrationRequests.Renewals(eureka).Count == 2, "the second renew");

        Assert.Equal(TimeSpan.FromSeconds(30), first);
        Assert.Equal(TimeSpan.FromSeconds(30), second);
        var renew = RegistrationRequests.Renewals(eureka)[0];
        Assert.Equal("/eureka/apps/ORDERS/host-a%3Aorders%3A8080", renew.RawTarget.Split('?')[0]);
        Assert.Equal($"?status=UP&lastDirtyTimestamp={dirty}", renew.Query);
        Assert.Equal(200, renew.StatusCode);
        Assert.Single(eureka.RequestsFor("POST"));
    }

    [Fact]
    public async Task Renew_AfterTheServerRestartedEmpty_Answers404_AndTheAgentRegistersAgainWithinOneInterval()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment, time);

        // After the read-back too: one that reached the emptied server would find the lease gone at once.
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id) is not null && eureka.RequestsFor("GET", "/apps/ORDERS/").Count == 1, "the agent registered and read back");

        // The read-back that follows the first registration would otherwise race the restart: its 404 registers again at once.
        await Eventually.TrueAsync(() => eureka.RequestsFor("GET", "/apps/ORDERS/").Count > 0, "the read-back after the registration");
        await eureka.RestartAsync(empty: true);
        eureka.ClearRequests();
        var took = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => eureka.Instance("ORDERS", Id) is not null, "the agent registered again");

        Assert.Equal(TimeSpan.FromSeconds(30), took);
        var calls = eureka.Requests.Where(r => r.Method is "PUT" or "POST").Select(r => $"{r.Method} {r.StatusCode}").ToList();
        Assert.Equal(["PUT 404", "POST 204"], calls);
        Assert.Equal(InstanceStatus.Up, eureka.Instance("ORDERS", Id)!.Status);
    }

    [Fact]
    public async Task Renew_WhenEveryServerFails_RegistersAgainOnceOneIsBack()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment, time);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id) is not null, "the agent registered");
        await Eventually.TrueAsync(() => eureka.RequestsFor("GET", "/apps/ORDERS/").Count == 1, "the agent read its instance back"); // so only the renew fails

        eureka.Fail500 = true;
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => eureka.RequestsFor("PUT").Any(r => r.StatusCode == 500), "a renew failed");
        // The fake records the 500 before the agent has read it: wait for the agent's side.
        await Eventually.TrueAsync(() => agent.Get<EurekaRegistrationService>().Check().Detail.Contains("last renew failed", StringComparison.Ordinal),
            "the agent noticed the failed renew");
        Assert.True(agent.Get<EurekaRegistrationService>().Check().Ready, "an outage of Eureka does not make the app unready");

        eureka.Fail500 = false;
        eureka.ClearRequests();
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(5), () => eureka.RequestsFor("POST").Any(r => r.StatusCode == 204), "the agent registered again");
    }

    [Fact]
    public async Task Readiness_IncludesRegistration()
    {
        await using var eureka = await FakeEureka.StartAsync();
        await eureka.DownAsync();
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment);

        await Eventually.TrueAsync(() => agent.Get<EurekaRegistrationService>().Check().Detail.StartsWith("not registered", StringComparison.Ordinal), "registration failed");
        using (var notReady = await agent.Client.GetAsync("v1/health/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
            Assert.Contains("not registered: register failed on every Eureka server: connection refused", await notReady.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await eureka.RestartAsync(empty: false);
        await Eventually.TrueAsync(async () => (await agent.Client.GetAsync("v1/health/ready")).StatusCode == HttpStatusCode.OK, "registration succeeded", TimeSpan.FromSeconds(15));
        var health = await agent.Client.GetStringAsync("v1/health");
        Assert.Contains($"\"registration\":\"registered with {eureka.ServiceUrl.AbsoluteUri} as UP\"", health, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readiness_InStandaloneMode_HasNoRegistrationCheck()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "" });

        using var ready = await agent.Client.GetAsync("v1/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("\"registration\":\"disabled\"", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

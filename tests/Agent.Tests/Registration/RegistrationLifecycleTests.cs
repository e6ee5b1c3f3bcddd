using System.Net;
using System.Net.Http.Json;
using Sidecar.Health;
using Sidecar.Registration;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

/// <summary>Register, renew, re-register and status changes against the fake Eureka, on a fake clock.</summary>
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

        var first = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(40), () => Renewals(eureka).Count == 1, "the first renew");
        var second = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(40), () => Renewals(eureka).Count == 2, "the second renew");

        Assert.Equal(TimeSpan.FromSeconds(30), first);
        Assert.Equal(TimeSpan.FromSeconds(30), second);
        var renew = Renewals(eureka)[0];
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
    public async Task HealthDown_ReachesEurekaAtOnce_AndUpAgain()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var probe = new FakeAppHealthProbe(healthy: true);
        await using var agent = await RegisteredAgent.StartAsync(RegisteredAgent.Environment(eureka), time, probe);
        var monitor = agent.Get<AppHealthMonitor>();
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "the agent registered UP");

        probe.Healthy = false;
        for (var i = 0; i < 3; i++)
        {
            await monitor.ProbeOnceAsync(CancellationToken.None); // the failure threshold is 3
        }

        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Down, "DOWN reached Eureka without any time passing");
        Assert.Equal("DOWN", (await agent.Client.GetFromJsonAsync<StatusBody>("status"))!.Status);
    }

    [Fact]
    public async Task AppOutOfService_ReachesEurekaAtOnce_SurvivesHealthyProbes_AndUpEndsIt()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var probe = new FakeAppHealthProbe(healthy: true);
        await using var agent = await RegisteredAgent.StartAsync(RegisteredAgent.Environment(eureka), time, probe);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "the agent registered UP");

        using var response = await agent.Client.PutAsync("v1/registration/status", new StringContent("""{"status":"OUT_OF_SERVICE"}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("OUT_OF_SERVICE", (await response.Content.ReadFromJsonAsync<StatusBody>())!.Status);

        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.OutOfService, "OUT_OF_SERVICE reached Eureka without any time passing");
        var request = Assert.Single(eureka.RequestsFor("PUT", "/status"));
        Assert.StartsWith("?value=OUT_OF_SERVICE&lastDirtyTimestamp=", request.Query, StringComparison.Ordinal);

        // Healthy probes and renewals do not end what the app set.
        await agent.Get<AppHealthMonitor>().ProbeOnceAsync(CancellationToken.None);
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => Renewals(eureka).Count == 1, "a renew");
        Assert.Equal(InstanceStatus.OutOfService, eureka.Instance("ORDERS", Id)!.Status);
        Assert.Equal("OUT_OF_SERVICE", (await agent.Client.GetFromJsonAsync<StatusBody>("status"))!.Status);

        using var back = await agent.Client.PutAsync("v1/registration/status", new StringContent("""{"status":"up"}"""));
        Assert.Equal("UP", (await back.Content.ReadFromJsonAsync<StatusBody>())!.Status);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "UP reached Eureka without any time passing");
        Assert.Equal(InstanceStatus.Unknown, eureka.Instance("ORDERS", Id)!.OverriddenStatus);
        Assert.StartsWith("?value=UP&", Assert.Single(eureka.RequestsFor("DELETE", "/status")).Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AppOutOfService_IsKeptWhenTheServerLostTheLease()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment, time);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id) is not null, "the agent registered");
        using var _ = await agent.Client.PutAsync("v1/registration/status", new StringContent("""{"status":"OUT_OF_SERVICE"}"""));
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.OutOfService, "OUT_OF_SERVICE reached Eureka");

        await eureka.RestartAsync(empty: true);
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => eureka.Instance("ORDERS", Id) is not null, "the agent registered again");

        var instance = eureka.Instance("ORDERS", Id)!;
        Assert.Equal(InstanceStatus.OutOfService, instance.Status);
        Assert.Equal(InstanceStatus.OutOfService, instance.OverriddenStatus);
    }

    [Fact]
    public async Task HealthChanges_AreRateLimited_AndTheLastOneIsSentWhenATokenIsBack()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var probe = new FakeAppHealthProbe(healthy: false);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_FAILURE_THRESHOLD"] = "1";
        await using var agent = await RegisteredAgent.StartAsync(environment, time, probe);
        var monitor = agent.Get<AppHealthMonitor>();
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id) is not null, "the agent registered");

        // The start-up probe races the first registration: flip until a change is held back, then count what went out.
        await monitor.ProbeOnceAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Down, "DOWN reached Eureka");
        var held = false;
        for (var flip = 0; flip < 3 && !held; flip++)
        {
            probe.Healthy = !probe.Healthy;
            await monitor.ProbeOnceAsync(CancellationToken.None);
            var expected = monitor.Current.Status;
            for (var i = 0; i < 50 && eureka.Instance("ORDERS", Id)?.Status != expected; i++)
            {
                await Task.Delay(10);
            }

            held = eureka.Instance("ORDERS", Id)?.Status != expected;
        }

        // Burst of 2 (Netflix's InstanceInfoReplicator): two status re-registrations went at once, the third waits for a token (4 a minute: 15 s).
        Assert.True(held, "a third change within the burst was held back");
        Assert.Equal(1 + 2, eureka.RequestsFor("POST").Count);
        var status = monitor.Current.Status;

        var took = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(20), () => eureka.Instance("ORDERS", Id)?.Status == status, "the held change reached Eureka once a token was back");
        Assert.Equal(TimeSpan.FromSeconds(15), took);
    }

    [Fact]
    public async Task AHeldHealthChange_WithARenewIntervalShorterThanTheTokenWait_KeepsRenewing_AndDoesNotSpin()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var probe = new FakeAppHealthProbe(healthy: true);
        var logs = new LogCapture();
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_FAILURE_THRESHOLD"] = "1";
        environment["EUREKA_RENEW_INTERVAL"] = "1s";
        environment["Eureka__StatusUpdateBurst"] = "1";
        environment["Eureka__StatusUpdatesPerMinute"] = "2"; // a token every 30 s: 30 renewals fall due meanwhile
        await using var agent = await RegisteredAgent.StartAsync(environment, time, probe, logs);
        var monitor = agent.Get<AppHealthMonitor>();
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "the agent registered UP");

        // Flip until a change is held back (the start-up probe may or may not have used the one token).
        var held = false;
        for (var flip = 0; flip < 3 && !held; flip++)
        {
            probe.Healthy = !probe.Healthy;
            await monitor.ProbeOnceAsync(CancellationToken.None);
            await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == monitor.Current.Status || logs.Contains("rate-limited"), "the change went or was held");
            held = eureka.Instance("ORDERS", Id)?.Status != monitor.Current.Status;
        }

        Assert.True(held, "a change was held back");
        var status = monitor.Current.Status;
        var renewalsBefore = Renewals(eureka).Count;

        // The renew falls due while the change waits for its token: the loop renews, then sleeps.
        time.Advance(TimeSpan.FromSeconds(2));
        await Eventually.TrueAsync(() => Renewals(eureka).Count > renewalsBefore, "the lease was renewed while the change was held");
        await Task.Delay(300); // real time in which a spinning loop would log thousands of lines
        Assert.Single(logs.Entries, e => e.Contains("rate-limited", StringComparison.Ordinal));
        Assert.Equal(renewalsBefore + 1, Renewals(eureka).Count);

        var took = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => eureka.Instance("ORDERS", Id)?.Status == status,
            "the held change reached Eureka once a token was back", TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(28), took); // 30 s after the token was taken, 2 s of which had passed
        Assert.Single(logs.Entries, e => e.Contains("rate-limited", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Register_WhenEurekaKeptTheOutOfServiceOverrideAPreviousRunOfThisAgentSet_RemovesIt_AndSaysHowToTakeTheInstanceOut()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";

        // A previous run: its app took the instance out, then the run ended without its cancel reaching Eureka.
        await using (var previous = await RegisteredAgent.StartAsync(environment, time))
        {
            await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id) is not null && Renewals(eureka).Count == 0 && eureka.RequestsFor("GET", "/apps/ORDERS/").Count == 1, "the first run registered and read back");
            using var _ = await previous.Client.PutAsync("v1/registration/status", new StringContent("""{"status":"OUT_OF_SERVICE"}"""));
            await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.OverriddenStatus == InstanceStatus.OutOfService, "the override reached Eureka");
            await Eventually.TrueAsync(() => File.Exists(Path.Combine(environment["SIDECAR_DATA_DIR"]!, "eureka-override")), "the agent remembered its override");
            eureka.Refuse = (method, _) => method == "DELETE" ? 503 : null;
        }

        eureka.Refuse = null;
        eureka.ClearRequests();
        var logs = new LogCapture();
        await using var agent = await RegisteredAgent.StartAsync(environment, time, logs: logs);

        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id) is { Status: InstanceStatus.Up, OverriddenStatus: InstanceStatus.Unknown },
            "the override from before the start was removed without any time passing");
        Assert.Single(eureka.RequestsFor("GET", "/apps/ORDERS/"));
        Assert.StartsWith("?value=UP&lastDirtyTimestamp=", Assert.Single(eureka.RequestsFor("DELETE", "/status")).Query, StringComparison.Ordinal);
        var warning = Assert.Single(logs.Entries, e => e.StartsWith("Warning", StringComparison.Ordinal) && e.Contains("that this agent set before this start", StringComparison.Ordinal));
        Assert.Contains("PUT /v1/registration/status", warning, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(environment["SIDECAR_DATA_DIR"]!, "eureka-override")));

        // Renewals keep it UP: the override is gone from the server, not only from the agent's view.
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => Renewals(eureka).Count == 1, "a renew");
        Assert.Equal(InstanceStatus.Up, eureka.Instance("ORDERS", Id)!.Status);
        Assert.Single(eureka.RequestsFor("GET", "/apps/ORDERS/"));
    }

    [Fact]
    public async Task Register_WhenAnOperatorSetAnOverride_LeavesItInPlace_WithAWarning()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);

        // An operator took the instance out through Eureka's REST API (PUT apps/ORDERS/{id}/status?value=OUT_OF_SERVICE).
        eureka.Seed(EurekaInstances.Create("orders", Id, "host-a", "10.0.0.5", 8080));
        Assert.Equal(200, eureka.Registry.UpdateStatus("ORDERS", Id, "OUT_OF_SERVICE", 2));
        var logs = new LogCapture();
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment, time, logs: logs);

        await Eventually.TrueAsync(() => logs.Contains("that this agent did not set"), "the warning");
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => Renewals(eureka).Count == 1, "a renew");
        Assert.Empty(eureka.RequestsFor("DELETE"));
        Assert.Equal(InstanceStatus.OutOfService, eureka.Instance("ORDERS", Id)!.Status);
        Assert.Equal(InstanceStatus.OutOfService, eureka.Instance("ORDERS", Id)!.OverriddenStatus);
        var warning = Assert.Single(logs.Entries, e => e.StartsWith("Warning", StringComparison.Ordinal) && e.Contains("that this agent did not set", StringComparison.Ordinal));
        Assert.Contains("left in place", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WhenEurekaHoldsNoOverride_ReadsTheInstanceBackOnce_AndChangesNothing()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var logs = new LogCapture();
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment, time, logs: logs);

        await Eventually.TrueAsync(() => eureka.RequestsFor("GET", "/apps/ORDERS/").Count == 1, "the read-back");
        await eureka.RestartAsync(empty: true); // a registration after a lost lease is not read back again
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => eureka.Instance("ORDERS", Id) is not null, "the agent registered again");

        Assert.Equal(2, eureka.RequestsFor("POST").Count);
        Assert.Single(eureka.RequestsFor("GET", "/apps/ORDERS/"));
        Assert.Empty(eureka.RequestsFor("DELETE"));
        Assert.Equal(InstanceStatus.Up, eureka.Instance("ORDERS", Id)!.Status);
        Assert.DoesNotContain(logs.Entries, e => e.Contains("from before this start", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Register_WhenTheServerRefusesTheReadBack_StatusChangesStillGo_AndTheReadBackIsGivenUpAfterFiveAttempts()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        eureka.Refuse = (method, path) => method == "GET" && path.StartsWith("/eureka/apps/ORDERS/", StringComparison.Ordinal) ? 403 : null;
        var probe = new FakeAppHealthProbe(healthy: false);
        var logs = new LogCapture();
        await using var agent = await RegisteredAgent.StartAsync(RegisteredAgent.Environment(eureka), time, probe, logs);
        await Eventually.TrueAsync(() => eureka.RequestsFor("GET", "/apps/ORDERS/").Count == 1, "the refused read-back");

        // A health change does not wait behind the read-back's retry.
        probe.Healthy = true;
        await agent.Get<AppHealthMonitor>().ProbeOnceAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "UP reached Eureka without any time passing");

        // Four more attempts (1, 2, 4 and 8 s apart), then no more: not a failure every renew for ever.
        var took = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(20), () => logs.Contains("Could not read ORDERS/host-a:orders:8080 back"),
            "the read-back was given up", TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(15), took);
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(60), () => Renewals(eureka).Count >= 2, "two renewals");
        Assert.Equal(5, eureka.RequestsFor("GET", "/apps/ORDERS/").Count);
        Assert.Equal(InstanceStatus.Up, eureka.Instance("ORDERS", Id)!.Status);
    }

    [Fact]
    public void OverrideIn_ReadsEurekasInstanceAnswer_BothSpellings()
    {
        var camel = """{"instance":{"instanceId":"host-a:orders:8080","app":"ORDERS","status":"OUT_OF_SERVICE","overriddenStatus":"OUT_OF_SERVICE"}}"""u8.ToArray();
        var lower = """{"instance":{"instanceId":"host-a:orders:8080","app":"ORDERS","hostName":"h","ipAddr":"10.0.0.5","status":"UP","overriddenstatus":"UNKNOWN"}}"""u8.ToArray();

        Assert.Equal(InstanceStatus.OutOfService, EurekaRegistrationService.OverrideIn(camel));
        Assert.Equal(InstanceStatus.Unknown, EurekaRegistrationService.OverrideIn(lower));
        Assert.Null(EurekaRegistrationService.OverrideIn("<instance/>"u8.ToArray()));
        Assert.Null(EurekaRegistrationService.OverrideIn("""{"applications":{}}"""u8.ToArray()));
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

    private static List<RecordedRequest> Renewals(FakeEureka eureka) =>
        [.. eureka.RequestsFor("PUT").Where(r => !r.Path.EndsWith("/status", StringComparison.Ordinal))];

    private sealed record StatusBody(string Status);
}

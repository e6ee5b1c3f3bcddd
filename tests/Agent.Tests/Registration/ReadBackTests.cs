using Sidecar.Health;
using Sidecar.Registration;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

/// <summary>The read-back after the first registration: an override left from before the start, an operator's, none, a refused read.</summary>
public sealed class ReadBackTests
{
    private const string Id = "host-a:orders:8080";

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
            await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id) is not null && RegistrationRequests.Renewals(eureka).Count == 0 && eureka.RequestsFor("GET", "/apps/ORDERS/").Count == 1, "the first run registered and read back");
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

        // The server's state changes before the agent has read the DELETE's answer, which is when it forgets the marker.
        await Eventually.TrueAsync(() => !File.Exists(Path.Combine(environment["SIDECAR_DATA_DIR"]!, "eureka-override")), "the agent forgot its override");

        // Renewals keep it UP: the override is gone from the server, not only from the agent's view.
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => RegistrationRequests.Renewals(eureka).Count == 1, "a renew");
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
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => RegistrationRequests.Renewals(eureka).Count == 1, "a renew");
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
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(60), () => RegistrationRequests.Renewals(eureka).Count >= 2, "two renewals");
        Assert.Equal(5, eureka.RequestsFor("GET", "/apps/ORDERS/").Count);
        Assert.Equal(InstanceStatus.Up, eureka.Instance("ORDERS", Id)!.Status);
    }

    [Trait("Category", "Unit")]
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
}

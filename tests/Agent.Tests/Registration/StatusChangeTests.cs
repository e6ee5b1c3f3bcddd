using System.Net;
using System.Net.Http.Json;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

/// <summary>Health changes and the app's own OUT_OF_SERVICE reaching the fake Eureka, within the rate limit, on a fake clock.</summary>
public sealed class StatusChangeTests
{
    private const string Id = "host-a:orders:8080";

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
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => RegistrationRequests.Renewals(eureka).Count == 1, "a renew");
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
        var logs = new LogCapture();
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_FAILURE_THRESHOLD"] = "1";
        await using var agent = await RegisteredAgent.StartAsync(environment, time, probe, logs);
        var monitor = agent.Get<AppHealthMonitor>();
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id) is not null, "the agent registered");

        // The start-up probe races the first registration: flip until a change is held back, then count what went out.
        await monitor.ProbeOnceAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Down, "DOWN reached Eureka");
        var held = false;
        for (var flip = 0; flip < 3 && !held; flip++)
        {
            probe.Healthy = !probe.Healthy;
            var holds = Holds(logs);
            await monitor.ProbeOnceAsync(CancellationToken.None);
            var expected = monitor.Current.Status;
            // Sent, or held: the loop says so ("rate-limited"), and then only a token (fake time) sends it.
            await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == expected || Holds(logs) > holds, "the change went or was held");
            held = eureka.Instance("ORDERS", Id)?.Status != expected;
        }

        // Burst of 2 (Netflix's InstanceInfoReplicator): two status re-registrations went at once, the third waits for a token (4 a minute: 15 s).
        Assert.True(held, "a third change within the burst was held back");
        Assert.Equal(1 + 2, eureka.RequestsFor("POST").Count);
        var status = monitor.Current.Status;

        var took = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(20), () => eureka.Instance("ORDERS", Id)?.Status == status, "the held change reached Eureka once a token was back");
        Assert.Equal(TimeSpan.FromSeconds(15), took);
    }

    /// <summary>
    /// Issue 13, point 8: an app toggling its own status many times is limited like health changes
    /// (burst 2, 4 a minute): a handful of Eureka writes, and the last state always arrives.
    /// </summary>
    [Fact]
    public async Task AppStatusToggles_AreRateLimitedLikeHealthChanges_AndTheLastStateArrives()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment, time);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "the agent registered UP");
        await Eventually.TrueAsync(() => eureka.RequestsFor("GET", "/apps/ORDERS/").Count > 0, "the read-back after the registration"); // quiet from here on

        // Whatever the start took from the bucket (a STARTING -> UP re-registration may or may not have
        // spent a token, depending on timing), 30 s of fake time fill it again to its burst of 2; the renew
        // that falls due then says the loop has run past that point.
        var renewals = RegistrationRequests.Renewals(eureka).Count;
        time.Advance(TimeSpan.FromSeconds(30));
        await Eventually.TrueAsync(() => RegistrationRequests.Renewals(eureka).Count > renewals, "the renew 30 s later");
        eureka.ClearRequests();

        // 1,000 toggles as fast as the app can send them, then OUT_OF_SERVICE last.
        const string Out = """{"status":"OUT_OF_SERVICE"}""";
        const string Up = """{"status":"UP"}""";
        for (var i = 0; i <= 1000; i++)
        {
            using var response = await agent.Client.PutAsync("v1/registration/status", new StringContent(i % 2 == 0 ? Out : Up));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // The burst went at once; no other write goes out while no time passes.
        await Eventually.TrueAsync(() => StatusWrites(eureka) >= 2, "the burst went out");
        Assert.Equal(2, StatusWrites(eureka));

        // The last state arrives when a token is back (15 s), and with it the writes stop.
        var took = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(20),
            () => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.OutOfService, "the last state (OUT_OF_SERVICE) reached Eureka");
        Assert.True(took <= TimeSpan.FromSeconds(15), $"took {took}");
        Assert.InRange(StatusWrites(eureka), 2, 3);
        Assert.Equal(InstanceStatus.OutOfService, eureka.Instance("ORDERS", Id)!.OverriddenStatus);
    }

    private static int Holds(LogCapture logs) => logs.Entries.Count(e => e.Contains("rate-limited", StringComparison.Ordinal));

    private static int StatusWrites(FakeEureka eureka) =>
        eureka.RequestsFor("PUT", "/status").Count + eureka.RequestsFor("DELETE", "/status").Count + eureka.RequestsFor("POST").Count;

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
        var renewalsBefore = RegistrationRequests.Renewals(eureka).Count;

        // The renew falls due while the change waits for its token: the loop renews, then sleeps until the
        // next renew (1 s away on the fake clock). Its sleep arming a timer is the signal; a spinning loop
        // would have logged the held change again and again by then.
        static bool NextRenew(TimeSpan due) => due == TimeSpan.FromSeconds(1);
        var sleepsBefore = time.EverArmed(NextRenew);
        time.Advance(TimeSpan.FromSeconds(2));
        await Eventually.TrueAsync(() => RegistrationRequests.Renewals(eureka).Count > renewalsBefore, "the lease was renewed while the change was held");
        await Eventually.TrueAsync(() => time.EverArmed(NextRenew) > sleepsBefore, "the loop went to sleep until the next renew");
        Assert.Single(logs.Entries, e => e.Contains("rate-limited", StringComparison.Ordinal));
        Assert.Equal(renewalsBefore + 1, RegistrationRequests.Renewals(eureka).Count);

        var took = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => eureka.Instance("ORDERS", Id)?.Status == status,
            "the held change reached Eureka once a token was back", TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(28), took); // 30 s after the token was taken, 2 s of which had passed
        Assert.Single(logs.Entries, e => e.Contains("rate-limited", StringComparison.Ordinal));
    }

    private sealed record StatusBody(string Status);
}

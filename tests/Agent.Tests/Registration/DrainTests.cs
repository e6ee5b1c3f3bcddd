using System.Net.Http.Json;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

/// <summary>The drain's length: its default, the warning when it is shorter than callers need, and a drain the app began itself.</summary>
public sealed class DrainTests
{
    private const string Id = "host-a:orders:8080";

    [Theory]
    [InlineData("20s", null, true)]
    [InlineData("59s", null, true)]
    [InlineData("60s", null, false)]
    [InlineData("0s", null, false)]
    [InlineData("40s", "10s", false)]
    [InlineData("40s", "15s", true)]
    public async Task AtStart_ADrainShorterThanTheResponseCachePlusTheFetchInterval_IsAWarning(string drain, string? fetch, bool warned)
    {
        // A Eureka that refuses: the agent never registers, so it stops without draining.
        var environment = RegisteredAgent.Environment();
        environment["EUREKA_URLS"] = $"http://127.0.0.1:{LoopbackServer.FreePort()}/eureka/";
        environment["SIDECAR_DRAIN"] = drain;
        if (fetch is not null)
        {
            environment["EUREKA_FETCH_INTERVAL"] = fetch;
        }

        using var logs = new LogCapture();
        await using var agent = await RegisteredAgent.StartAsync(environment, logs: logs);

        Assert.Equal(warned, logs.Contains($"SIDECAR_DRAIN={drain} is shorter than callers may keep calling this instance"));
    }

    [Fact]
    public async Task AnAppThatWentOutOfServiceLongEnoughBefore_IsNotDrainedAgain_AtStop()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        environment["SIDECAR_DRAIN"] = "65s";
        using var logs = new LogCapture();
        await using var agent = await RegisteredAgent.StartAsync(environment, time, logs: logs);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "the agent registered");

        // The app's preStop: out of service, then it waits while callers move away (native sidecar, docs/operations.md).
        using var put = await agent.Client.PutAsJsonAsync("v1/registration/status", new { status = "OUT_OF_SERVICE" });
        put.EnsureSuccessStatusCode();
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.OutOfService, "OUT_OF_SERVICE reached Eureka");
        time.Advance(TimeSpan.FromSeconds(66));

        // The fake clock no longer moves: a drain that still waited would never end before the token.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await agent.StopAsync(cts.Token);

        Assert.False(cts.IsCancellationRequested, "the stop did not wait for a drain");
        Assert.True(logs.Contains("OUT_OF_SERVICE in Eureka for 66s already: the drain is over"), logs.Text);
        Assert.Single(eureka.RequestsFor("DELETE"));
    }

    [Fact]
    public async Task AnAppThatWentOutOfServiceShortlyBefore_IsDrainedForTheRestOnly()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        environment["SIDECAR_DRAIN"] = "65s";
        using var logs = new LogCapture();
        await using var agent = await RegisteredAgent.StartAsync(environment, time, logs: logs);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "the agent registered");
        using var put = await agent.Client.PutAsJsonAsync("v1/registration/status", new { status = "OUT_OF_SERVICE" });
        put.EnsureSuccessStatusCode();
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.OutOfService, "OUT_OF_SERVICE reached Eureka");
        time.Advance(TimeSpan.FromSeconds(45));

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var stop = agent.StopAsync(cts.Token);
        await Eventually.TrueAsync(() => logs.Contains("draining for the remaining 20s"), "the drain was shortened");
        Assert.False(stop.IsCompleted, "the rest of the drain is still to come");
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(25), () => stop.IsCompleted, "the rest of the drain ended", TimeSpan.FromSeconds(5));

        await stop;
        Assert.Single(eureka.RequestsFor("DELETE"));
    }
}

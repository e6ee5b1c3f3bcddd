using System.Net.Http.Json;
using Sidecar.Health;
using Sidecar.Registration;
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
        environment["EUREKA_URLS"] = $"http://127.0.0.1:{LoopbackServer.RefusingPort()}/eureka/";
        environment["SIDECAR_DRAIN"] = drain;
        if (fetch is not null)
        {
            environment["EUREKA_FETCH_INTERVAL"] = fetch;
        }

        using var logs = new LogCapture();
        await using var agent = await RegisteredAgent.StartAsync(environment, logs: logs);

        Assert.Equal(warned, logs.Contains($"SIDECAR_DRAIN={drain} is shorter than callers may keep calling this instance"));
    }

    // Real time, short drains: a whole host stopping on a fake clock meets every timer of every service.
    private static async Task<(AgentHarness Agent, LogCapture Logs, DateTimeOffset OutOfServiceAt)> StartOutOfServiceAsync(FakeEureka eureka, string drain)
    {
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        environment["SIDECAR_DRAIN"] = drain;
        var logs = new LogCapture();
        var agent = await RegisteredAgent.StartAsync(environment, logs: logs);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "the agent registered");

        // The app's preStop: out of service, then it waits while callers move away (native sidecar, docs/operations.md).
        using var put = await agent.Client.PutAsJsonAsync("v1/registration/status", new { status = "OUT_OF_SERVICE" });
        put.EnsureSuccessStatusCode();
        // The agent has the answer (not only the server the request): from then on the drain counts.
        await Eventually.TrueAsync(() => agent.Get<EurekaRegistrationService>().ReportedStatus == InstanceStatus.OutOfService, "OUT_OF_SERVICE reached Eureka");
        return (agent, logs, DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task AnAppThatWentOutOfServiceLongEnoughBefore_IsNotDrainedAgain_AtStop()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var (agent, logs, at) = await StartOutOfServiceAsync(eureka, "1s");
        await using (agent)
        using (logs)
        {
            // The app's wait: the whole drain passes before SIGTERM.
            var left = at + TimeSpan.FromMilliseconds(1100) - DateTimeOffset.UtcNow;
            if (left > TimeSpan.Zero)
            {
                await Task.Delay(left);
            }

            await agent.StopAsync(CancellationToken.None);

            Assert.True(logs.Contains("already: the drain is over, cancelling the lease"), logs.Text);
            Assert.False(logs.Contains("Draining for"), logs.Text);
            Assert.Single(eureka.RequestsFor("DELETE"));
        }
    }

    [Fact]
    public async Task AnAppThatWentOutOfServiceShortlyBefore_IsDrainedForTheRestOnly()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var (agent, logs, _) = await StartOutOfServiceAsync(eureka, "3s");
        await using (agent)
        using (logs)
        {
            await agent.StopAsync(CancellationToken.None);

            Assert.True(logs.Contains("already: draining for the remaining"), logs.Text);
            Assert.Contains(logs.Entries, e => e.Contains("Draining for", StringComparison.Ordinal) && !e.Contains("Draining for 3s", StringComparison.Ordinal));
            Assert.Single(eureka.RequestsFor("DELETE"));
        }
    }
}

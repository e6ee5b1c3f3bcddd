using System.Text.Json;
using Sidecar.Discovery;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Discovery;

/// <summary>Full fetch, deltas, hash reconciliation, and the registry kept (in memory and on disk) while Eureka is down.</summary>
public sealed class RegistryRefreshTests
{
    private static Dictionary<string, string?> Environment(FakeEureka eureka, string? dataDir = null)
    {
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        if (dataDir is not null)
        {
            environment["SIDECAR_DATA_DIR"] = dataDir;
        }

        return environment;
    }

    private static int RefreshesArmed(LogCapture logs) =>
        logs.Entries.Count(e => e.Contains("Next registry refresh in", StringComparison.Ordinal));

    // Registry fetches only: the registration reads its own instance back once (apps/ORDERS/{id}).
    private static List<string> Fetches(FakeEureka eureka) =>
        [.. eureka.RequestsFor("GET").Where(r => r.Path.EndsWith("/apps/", StringComparison.Ordinal) || r.Path.EndsWith("/apps/delta", StringComparison.Ordinal)).Select(r => $"{r.Path} {r.StatusCode}")];

    [Fact]
    public async Task FirstAFullFetch_ThenDeltasEveryInterval()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        eureka.Seed(EurekaInstances.Create("payments", "p1", "pay-1", "10.0.1.1", 9000));
        await using var agent = await RegisteredAgent.StartAsync(Environment(eureka), time);
        var source = agent.Get<EurekaRegistry>();
        await Eventually.TrueAsync(() => source.View.GetInstances("payments")?.Count == 1, "the full fetch");

        eureka.Seed(EurekaInstances.Create("payments", "p2", "pay-2", "10.0.1.2", 9000));
        var took = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => source.View.GetInstances("payments")?.Count == 2, "the delta brought the new instance");

        Assert.Equal(TimeSpan.FromSeconds(30), took);
        Assert.Equal(["/eureka/apps/ 200", "/eureka/apps/delta 200"], Fetches(eureka));
        Assert.Equal(eureka.Registry.GetApplications().AppsHashCode, source.View.HashCode);
    }

    [Fact]
    public async Task FullFetchesAndDeltas_ComeGzipped_BecauseTheAgentAcceptsGzip_AndAreRead()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        eureka.Seed(EurekaInstances.Create("payments", "p1", "pay-1", "10.0.1.1", 9000));
        await using var agent = await RegisteredAgent.StartAsync(Environment(eureka), time);
        var source = agent.Get<EurekaRegistry>();
        await Eventually.TrueAsync(() => source.View.GetInstances("payments")?.Count == 1, "the full fetch");

        eureka.Seed(EurekaInstances.Create("payments", "p2", "pay-2", "10.0.1.2", 9000));
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => source.View.GetInstances("payments")?.Count == 2, "the delta brought the new instance");

        // The fake gzips only when asked, as a real server: so the agent asked, and decoded both answers.
        var fetches = eureka.RequestsFor("GET").Where(r => r.Path.EndsWith("/apps/", StringComparison.Ordinal) || r.Path.EndsWith("/apps/delta", StringComparison.Ordinal)).ToList();
        Assert.Equal(["/eureka/apps/", "/eureka/apps/delta"], fetches.Select(f => f.Path));
        Assert.All(fetches, f =>
        {
            Assert.Contains("gzip", f.AcceptEncoding, StringComparison.OrdinalIgnoreCase);
            Assert.Equal("gzip", f.ResponseEncoding);
        });
    }

    [Fact]
    public async Task ADeltaWhoseHashDiffers_ForcesAFullFetch()
    {
        var time = RegisteredAgent.NewClock();

        // Changes stay in deltas for 10 s only: one made right after a fetch is gone from the next delta (30 s later).
        await using var eureka = await FakeEureka.StartAsync(time, deltaRetention: TimeSpan.FromSeconds(10));
        await using var agent = await RegisteredAgent.StartAsync(Environment(eureka), time);
        var registry = agent.Get<EurekaRegistry>();
        await Eventually.TrueAsync(() => registry.View.Origin == RegistryOrigin.Server, "the full fetch");
        eureka.Seed(EurekaInstances.Create("payments", "p1", "pay-1", "10.0.1.1", 9000));

        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => registry.View.GetInstances("payments") is not null, "the full fetch after the mismatch");

        Assert.Equal(["/eureka/apps/ 200", "/eureka/apps/delta 200", "/eureka/apps/ 200"], Fetches(eureka));
        Assert.Equal(eureka.Registry.GetApplications().AppsHashCode, registry.View.HashCode);
    }

    [Fact]
    public async Task ADeltaRefused403_FallsBackToAFullFetch()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        eureka.Handler.DeltaDisabled = true;
        await using var agent = await RegisteredAgent.StartAsync(Environment(eureka), time);
        var registry = agent.Get<EurekaRegistry>();
        await Eventually.TrueAsync(() => registry.View.Origin == RegistryOrigin.Server, "the full fetch");
        eureka.Seed(EurekaInstances.Create("payments", "p1", "pay-1", "10.0.1.1", 9000));

        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => registry.View.GetInstances("payments") is not null, "the full fetch after the 403");

        Assert.Equal(["/eureka/apps/ 200", "/eureka/apps/delta 403", "/eureka/apps/ 200"], Fetches(eureka));
    }

    [Fact]
    public async Task SingleObjectJsonFromAnOlderServer_IsRead()
    {
        await using var eureka = await FakeEureka.StartAsync();
        eureka.Handler.SingleObjectJson = true;
        eureka.Seed(EurekaInstances.Create("payments", "p1", "pay-1", "10.0.1.1", 9000));
        await using var agent = await RegisteredAgent.StartAsync(Environment(eureka));

        await Eventually.TrueAsync(() => agent.Get<EurekaRegistry>().View.GetInstances("payments")?.Count == 1, "the full fetch");

        // The fake records requests, not answers: ask it the way the agent did to see what it sent.
        using var client = new HttpClient();
        client.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        Assert.Contains("\"instance\":{\"instanceId\":\"p1\"", await client.GetStringAsync(new Uri(eureka.ServiceUrl, "apps/")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithEveryServerDown_TheLastGoodRegistryIsServedFromMemory()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        eureka.Seed(EurekaInstances.Create("payments", "p1", "pay-1", "10.0.1.1", 9000));
        var logs = new LogCapture();
        await using var agent = await RegisteredAgent.StartAsync(Environment(eureka), time, logs: logs);
        var registry = agent.Get<EurekaRegistry>();
        await Eventually.TrueAsync(() => registry.View.GetInstances("payments") is not null, "the full fetch");
        await Eventually.TrueAsync(() => RefreshesArmed(logs) == 1, "the refresher sleeps until the next refresh");
        var version = registry.Version;

        await eureka.DownAsync();
        time.Advance(TimeSpan.FromSeconds(30));
        await Eventually.TrueAsync(() => RefreshesArmed(logs) == 2, "the refresh ran (and the refresher sleeps again)");
        time.Advance(TimeSpan.FromSeconds(30));
        await Eventually.TrueAsync(() => RefreshesArmed(logs) == 3, "the next refresh ran too");

        Assert.Equal(version, registry.Version);
        using var answer = JsonDocument.Parse(await agent.Client.GetStringAsync("v1/services/payments/instances"));
        Assert.Equal("pay-1", answer.RootElement[0].GetProperty("host").GetString());
    }

    [Fact]
    public async Task WithEveryServerDownAtStart_TheDiskSnapshotIsServed_UntilEurekaIsBack()
    {
        var dataDir = RegisteredAgent.NewDataDir();
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        eureka.Seed(EurekaInstances.Create("payments", "p1", "pay-1", "10.0.1.1", 9000, zone: "z1"));

        await using (var first = await RegisteredAgent.StartAsync(Environment(eureka, dataDir), time))
        {
            await Eventually.TrueAsync(() => first.Get<EurekaRegistry>().View.GetInstances("payments") is not null, "the full fetch");
        }

        var snapshot = Path.Combine(dataDir, RegistrySnapshotStore.FileName);
        Assert.True(File.Exists(snapshot));
        Assert.Equal([snapshot], Directory.GetFiles(dataDir));
        await eureka.DownAsync();

        await using var second = await RegisteredAgent.StartAsync(Environment(eureka, dataDir), time);
        var registry = second.Get<EurekaRegistry>();
        await Eventually.TrueAsync(() => registry.View.Origin == RegistryOrigin.Snapshot, "the snapshot was loaded");
        using (var answer = JsonDocument.Parse(await second.Client.GetStringAsync("v1/services/payments/instances")))
        {
            var instance = Assert.Single(answer.RootElement.EnumerateArray());
            Assert.Equal("pay-1", instance.GetProperty("host").GetString());
            Assert.Equal("z1", instance.GetProperty("zone").GetString());
        }

        using (var services = JsonDocument.Parse(await second.Client.GetStringAsync("v1/services")))
        {
            Assert.Equal("snapshot", services.RootElement.GetProperty("eureka").GetProperty("origin").GetString());
        }

        // Eureka is back: the next refresh is a full fetch (not a delta over a snapshot).
        await eureka.RestartAsync(empty: false);
        eureka.ClearRequests();
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => registry.View.Origin == RegistryOrigin.Server, "the registry came from Eureka again");
        Assert.Contains("/eureka/apps/ 200", Fetches(eureka));
        Assert.DoesNotContain("/eureka/apps/delta 200", Fetches(eureka));
    }

    [Fact]
    public async Task AnUnreadableSnapshot_IsIgnored()
    {
        var dataDir = RegisteredAgent.NewDataDir();
        Directory.CreateDirectory(dataDir);
        await File.WriteAllTextAsync(Path.Combine(dataDir, RegistrySnapshotStore.FileName), "{\"applications\":");
        await using var eureka = await FakeEureka.StartAsync();
        await eureka.DownAsync();

        var logs = new LogCapture();
        await using var agent = await RegisteredAgent.StartAsync(Environment(eureka, dataDir), logs: logs);
        await Eventually.TrueAsync(() => logs.Contains("Could not read the registry snapshot"), "the snapshot was read and refused");

        Assert.Equal(RegistryOrigin.None, agent.Get<EurekaRegistry>().View.Origin);
        Assert.Equal("pong", await agent.Client.GetStringAsync("ping"));
    }

    [Fact]
    public void ApplyingTheSameDeltaTwice_ChangesNothing()
    {
        var registry = new EurekaRegistry(new Sidecar.Eureka.EurekaOptions());
        var p1 = EurekaInstances.Create("payments", "p1", "pay-1", "10.0.1.1", 9000);
        registry.Replace(new EurekaApplications("1", "UP_1_", [new EurekaApplication("PAYMENTS", [p1])]), RegistryOrigin.Server, null, DateTimeOffset.UtcNow);
        var delta = new EurekaApplications("2", "DOWN_1_UP_1_", [new EurekaApplication("PAYMENTS",
        [
            EurekaInstances.Create("payments", "p2", "pay-2", "10.0.1.2", 9000, InstanceStatus.Down) with { ActionType = EurekaActionType.Added },
            p1 with { ActionType = EurekaActionType.Modified },
        ])]);

        Assert.True(registry.ApplyDelta(delta, null, DateTimeOffset.UtcNow, out var changed));
        Assert.True(changed);
        var version = registry.Version;
        Assert.True(registry.ApplyDelta(delta, null, DateTimeOffset.UtcNow, out changed));
        Assert.False(changed);
        Assert.Equal(version, registry.Version);

        var deleted = new EurekaApplications("3", "UP_1_", [new EurekaApplication("PAYMENTS", [p1 with { Status = InstanceStatus.Down, ActionType = EurekaActionType.Deleted }])]);
        Assert.False(registry.ApplyDelta(deleted, null, DateTimeOffset.UtcNow, out _), "p2 (DOWN) is left: the hash is DOWN_1_");
        Assert.Equal("p2", Assert.Single(registry.View.GetInstances("payments")!).InstanceId);
    }
}

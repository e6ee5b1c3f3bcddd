using System.Globalization;
using Sidecar.Tests.Support;
using Xunit.Abstractions;

namespace Sidecar.Tests.Reliability;

/// <summary>
/// Issue 9, scenario 3: three instances of <c>orders</c> under a steady load through the agent (GETs,
/// POSTs with and without <c>Idempotency-Key</c>); one instance is killed, hangs, or answers 503 for a
/// while. Idempotent calls must not fail (retried on another instance); a POST without a key may fail
/// when its instance failed after receiving it, but is never sent twice (counted at the upstreams).
/// </summary>
public sealed class UpstreamFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Baseline = TimeSpan.FromMilliseconds(800);
    private static readonly TimeSpan FaultTime = TimeSpan.FromMilliseconds(1500);
    private static readonly TimeSpan After = TimeSpan.FromMilliseconds(1200);
    private const int Concurrency = 8;

    private sealed class Rig : IAsyncDisposable
    {
        public RequestLedger Ledger { get; } = new();

        public FaultyUpstream[] Instances { get; private set; } = [];

        public AgentHarness Agent { get; private set; } = null!;

        public static async Task<Rig> StartAsync(params (string Key, string Value)[] settings)
        {
            var rig = new Rig();
            rig.Instances = [await FaultyUpstream.StartAsync("a", rig.Ledger), await FaultyUpstream.StartAsync("b", rig.Ledger), await FaultyUpstream.StartAsync("c", rig.Ledger)];
            var environment = new Dictionary<string, string?>
            {
                ["ROUTES"] = "orders=" + string.Join(';', rig.Instances.Select(i => i.Url)),
                ["SIDECAR_LOG_LEVEL"] = "warning",
            };
            foreach (var (key, value) in settings)
            {
                environment[key] = value;
            }

            rig.Agent = await AgentHarness.StartAsync(environment);
            return rig;
        }

        public async ValueTask DisposeAsync()
        {
            await Agent.DisposeAsync();
            foreach (var instance in Instances)
            {
                await instance.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task OneOfThreeInstancesKilledUnderLoad_IdempotentCallsAllSucceed_AndNoPostWithoutKeyIsSentTwice()
    {
        await using var rig = await Rig.StartAsync();
        var victim = rig.Instances[0];
        victim.Work = TimeSpan.FromMilliseconds(20); // calls are in flight on it when it dies
        await using var load = new LoadRunner(rig.Agent.BaseUri, "v1/invoke/orders/work", Concurrency).Start();

        await Task.Delay(Baseline);
        load.Mark("killed");
        await victim.KillAsync();
        await Task.Delay(FaultTime);
        load.Mark("after");
        await Task.Delay(After);
        await load.StopAsync();

        var figures = Report("upstream: 1 of 3 instances killed under load", rig, load);
        AssertIdempotentCallsNeverFailed(load);
        AssertNoPostWithoutKeyTwice(rig);

        // A POST without a key fails only when it was sent to the instance that died: it reached it once,
        // or it was still in the dying server's socket, unread (0): never twice, and never retried.
        var failedPosts = load.Phases.SelectMany(p => load[p].FailedIds).ToList();
        Assert.All(failedPosts, id => Assert.InRange(rig.Ledger.Arrivals(id), 0, 1));
        Assert.True(failedPosts.Count <= Concurrency, $"{failedPosts.Count} POSTs without key failed; at most {Concurrency} were in flight");
        Assert.Equal(0, load["after"].Failed);
        Assert.Equal("pong", await rig.Agent.Client.GetStringAsync("ping"));
        figures.Report(output);
    }

    [Fact]
    public async Task OneOfThreeInstancesHanging_IsTimedOutAndEjected_IdempotentCallsAllSucceed_AndNoPostWithoutKeyIsSentTwice()
    {
        await using var rig = await Rig.StartAsync(("Forwarding__TryTimeout", "300ms"));
        var victim = rig.Instances[0];
        await using var load = new LoadRunner(rig.Agent.BaseUri, "v1/invoke/orders/work", Concurrency).Start();

        await Task.Delay(Baseline);
        load.Mark("hanging");
        var victimCountBefore = victim.Count;
        victim.Mode = UpstreamMode.Hang;
        await Task.Delay(FaultTime);
        load.Mark("after");
        var victimCountAfter = victim.Count;
        await Task.Delay(After);
        await load.StopAsync();

        var figures = Report("upstream: 1 of 3 instances hanging under load", rig, load);
        AssertIdempotentCallsNeverFailed(load);
        AssertNoPostWithoutKeyTwice(rig);

        // Each failed POST reached the hanging instance once and was answered 504 by the agent: never retried.
        var failed = load["hanging"].FailedIds;
        Assert.All(failed, id => Assert.Equal(1, rig.Ledger.Arrivals(id)));
        Assert.All(load["hanging"].Failures.Keys, f => Assert.Equal("POST 504 upstream-timeout", f));
        // 5 failures eject it, but the calls picked for it before the 5th time-out fired hang too: each of the Concurrency
        // callers may hold one there at once (the figure in docs/reliability.md: ejected after 8 calls), and each fails.
        Assert.True(failed.Count <= Concurrency, $"{failed.Count} POSTs without key failed before the instance was ejected; at most {Concurrency} were in flight");

        // Ejected after 5 failures: nothing more reaches it, and nothing fails any more.
        Assert.Equal(victimCountAfter, victim.Count);
        Assert.True(load["after"].Failed == 0, "calls failed after the ejection: " + string.Join(", ", load["after"].Failures.Select(f => $"{f.Key} x{f.Value}")));
        figures.Note($"the hanging instance got {victimCountAfter - victimCountBefore} calls while it hung, none after its ejection").Report(output);
    }

    [Fact]
    public async Task OneOfThreeInstancesAnswering503ForAWhile_IsRetriedAroundAndEjected_ThenComesBack()
    {
        await using var rig = await Rig.StartAsync(("Forwarding__EjectionTime", "700ms"));
        var victim = rig.Instances[0];
        await using var load = new LoadRunner(rig.Agent.BaseUri, "v1/invoke/orders/work", Concurrency).Start();

        await Task.Delay(Baseline);
        load.Mark("503");
        victim.Mode = UpstreamMode.Fail503;
        await Task.Delay(FaultTime);
        victim.Mode = UpstreamMode.Normal;
        load.Mark("after");
        var before = victim.Count;
        await Task.Delay(After + TimeSpan.FromMilliseconds(600)); // the last ejection (2 x 700 ms at most) ends
        await load.StopAsync();

        var figures = Report("upstream: 1 of 3 instances answering 503 for 1.5 s", rig, load);
        AssertIdempotentCallsNeverFailed(load);
        AssertNoPostWithoutKeyTwice(rig);

        // A POST without a key that got the instance's 503 gets that 503 (the upstream's own answer, not retried).
        Assert.All(load["503"].Failures.Keys, f => Assert.Equal("POST 503 (upstream)", f));
        Assert.All(load["503"].FailedIds, id => Assert.Equal(1, rig.Ledger.Arrivals(id)));
        Assert.True(load["503"].Failed <= 12, $"{load["503"].Failed} POSTs without key got the 503; ejection should cut that short");
        Assert.Equal(0, load["after"].Failed);

        // The instance is back in rotation once its ejection ended.
        Assert.True(victim.Count > before, "the recovered instance gets calls again");
        figures.Note($"recovered instance got {victim.Count - before} calls after the fault").Report(output);
    }

    private static Figures Report(string scenario, Rig rig, LoadRunner load)
    {
        var figures = new Figures(scenario);
        foreach (var phase in load.Phases)
        {
            figures.Add(load[phase], phase);
        }

        var duplicates = rig.Ledger.Duplicates("POST-").Count;
        var idempotentFailed = load.Phases.Sum(p => load[p].FailedOf(CallKind.Get) + load[p].FailedOf(CallKind.PostWithKey));
        figures.Lost = string.Create(CultureInfo.InvariantCulture, $"{idempotentFailed} idempotent failed, {duplicates} POSTs sent twice");
        figures.Note($"instances served {string.Join("/", rig.Instances.Select(i => i.Count))}");
        return figures;
    }

    private static void AssertIdempotentCallsNeverFailed(LoadRunner load)
    {
        foreach (var phase in load.Phases)
        {
            Assert.True(load[phase].FailedOf(CallKind.Get) == 0 && load[phase].FailedOf(CallKind.PostWithKey) == 0,
                $"idempotent calls failed in phase {phase}: {load[phase].Describe()}");
            Assert.True(load[phase].SentOf(CallKind.Get) > 0, $"no load in phase {phase}");
        }
    }

    private static void AssertNoPostWithoutKeyTwice(Rig rig) =>
        Assert.True(rig.Ledger.Duplicates("POST-").Count == 0, "POSTs without key sent twice: " + string.Join(", ", rig.Ledger.Duplicates("POST-")));
}

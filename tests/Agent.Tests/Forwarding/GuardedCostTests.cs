using Sidecar.Tests.Support;
using Xunit.Abstractions;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// What every strategy of docs/resilience.md costs when configured but not triggered, in bytes allocated per
/// forwarded request (docs/resilience.md#cost): the part of the cost that does not move with the machine's
/// load. Two agents in this process, one with nothing configured and one with everything, call the same
/// 1 KiB upstream in alternating rounds; the process's allocations are counted around each round.
/// </summary>
/// <remarks>
/// The allocations are counted for the whole process: the test runs alone (a collection without parallel
/// runs), or other tests' allocations land in its rounds (it measured +2,000 bytes beside the Forwarding folder).
/// </remarks>
[CollectionDefinition(nameof(GuardedCostTests), DisableParallelization = true)]
[Collection(nameof(GuardedCostTests))]
public sealed class GuardedCostTests(ITestOutputHelper output)
{
    // Rounds per agent, of Measured calls each: the fewest bytes of each agent's rounds is its figure. The first rounds of
    // a fresh agent read a few hundred bytes more per call than its later ones (its code still tiering up), so many short
    // rounds reach each agent's floor where 4 rounds of 2,000 calls did not always: they read +484 once in a whole-suite
    // run, where 20 rounds of 1,000 read +146 to +155 in three runs alone (2026-12-04, docs/resilience.md#cost).
    // 30 since 2026-12-05: in one of five runs of 20 the guarded agent's rounds never reached its floor (+632, against +368).
    private const int Rounds = 30;
    private const int Measured = 1_000;

    private static readonly byte[] Body = new byte[1024];

    [Fact]
    public async Task EveryStrategyConfiguredNoneTriggered_AllocatesLittleMorePerRequest()
    {
        await using var upstream = await LoopbackServer.StartAsync(c => c.Response.Body.WriteAsync(Body).AsTask());
        await using var plain = await StartAgentAsync(upstream.Port);
        await using var guarded = await StartAgentAsync(upstream.Port,
            ("Forwarding__MaxConcurrentRequests", "100000"), ("Forwarding__RateLimit", "1000000"), ("Forwarding__CircuitBreaker", "true"),
            ("Forwarding__Cache", "true"), ("Forwarding__HedgeAfter", "1s"));

        var plainBytes = new List<double>();
        var guardedBytes = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            var order = round % 2 == 0 ? new[] { (plain, plainBytes), (guarded, guardedBytes) } : [(guarded, guardedBytes), (plain, plainBytes)];
            foreach (var (agent, bytes) in order)
            {
                bytes.Add(await BytesPerRequestAsync(agent));
            }
        }

        // Measured (docs/resilience.md#cost): +38 to +53 bytes over ~10,800 (the call's CallGuard); +310 while hedging's first
        // attempt had its own sources and async step, +750 before the guarded steps were folded into the call, +1,680 before the guarded path was reworked.
        // The fewest bytes of each agent's rounds: whatever else the process allocates meanwhile (a timer of an earlier
        // test's agent, a finalizer) only adds to a round, so the minimum is the closest to the calls' own (the median
        // once read +277 in a whole-suite run, against +13 to +79 alone). On another machine (2026-12-03, an AMD EPYC) the
        // same code read -16 to +304 in 10 runs of this test alone (4 of them with a longer warm-up and 6 rounds, which did
        // not narrow it) and +257 in a whole-suite run; the NativeAOT agents of bench/run.sh differed by +177 and +216
        // (agent-guarded against agent-invoke). The limit was 400 then: above that spread, below the +750 and +1,680 regressions.
        // With 20 short rounds (Rounds) the figure was +146 to +155 here (2026-12-04), +312 in four runs on 2026-12-05 (the
        // plain agent's floor fell that day, the guarded one's did not: docs/resilience.md#cost) before the answer's read
        // moved into the caller's frame, and +368 in four of five after it (one +632, the guarded agent's rounds never at its
        // floor): both agents' floors fell (8,896 → 8,608 and 9,208 → 8,976 bytes), the plain one's by an async frame of the
        // lean client's, the guarded one's by 56 bytes less (its attempt's frame holds the exchange's awaiter).
        // The limit is 600 since: a regression of +250 over that fails it.
        var added = guardedBytes.Min() - plainBytes.Min();
        output.WriteLine($"plain {plainBytes.Min():F0} B/request, guarded {guardedBytes.Min():F0} B/request, added {added:F0}");
        output.WriteLine($"rounds: plain {string.Join(" ", plainBytes.Select(b => b.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)))}; guarded {string.Join(" ", guardedBytes.Select(b => b.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)))}");
        Assert.True(added < 600, $"the guarded path allocates {added:F0} bytes more per request ({guardedBytes.Min():F0} against {plainBytes.Min():F0})");
    }

    private static async Task<double> BytesPerRequestAsync(AgentHarness agent)
    {
        await CallAsync(agent, 200); // warm: connections, pools, the tiered-up code

        // What earlier tests left for the finalizer runs now, not in the round (their agents' handles, sockets and timers).
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await CallAsync(agent, Measured);
        return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)Measured;
    }

    private static async Task CallAsync(AgentHarness agent, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var response = await agent.Client.GetAsync("v1/invoke/up/1k");
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            await response.Content.ReadAsByteArrayAsync();
        }
    }


    private static Task<AgentHarness> StartAgentAsync(int upstream, params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string?>
        {
            ["ROUTES"] = $"up=http://127.0.0.1:{upstream}", ["SIDECAR_LOG_LEVEL"] = "warning", ["Sidecar__RequestLog"] = "errors",

            // Both through Kestrel's pipeline: the forwarding core takes no guarded call, and the difference measured is
            // the guards' alone (the core's own cost is bench/ab.py's --a core-off, docs/performance.md#the-forwarding-core).
            ["Forwarding__Core"] = "false",
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return AgentHarness.StartAsync(environment);
    }
}

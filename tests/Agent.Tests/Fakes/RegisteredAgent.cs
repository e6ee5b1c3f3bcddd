using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Health;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Fakes;

/// <summary>Starts the real agent in registered mode against fake Eureka nodes, with a fake clock and a fake app health probe when given.</summary>
internal static class RegisteredAgent
{
    /// <summary>
    /// orders on host-a (10.0.0.5) port 8080, registered with <paramref name="servers"/>; no drain (tests
    /// that drain set it), and a data directory of its own so parallel tests never share snapshots.
    /// </summary>
    /// <remarks>
    /// An agent shuffles its servers with its IP as the seed (Eureka/EurekaServerOrder.cs); the URLs
    /// are listed so that this agent's order is the order of <paramref name="servers"/>, which failover
    /// tests rely on.
    /// </remarks>
    public static Dictionary<string, string?> Environment(params FakeEureka[] servers) => new()
    {
        ["APP_NAME"] = "orders",
        ["APP_PORT"] = "8080",
        ["APP_HOST"] = "host-a",
        ["APP_IP"] = Ip,
        ["EUREKA_URLS"] = string.Join(",", InAgentOrder(servers.Select(s => s.ServiceUrl.AbsoluteUri).ToArray())),
        ["SIDECAR_DRAIN"] = "0s",
        ["SIDECAR_DATA_DIR"] = NewDataDir(),
    };

    public const string Ip = "10.0.0.5";

    /// <summary>The URLs listed so that an agent with <see cref="Ip"/> tries them in the order given.</summary>
    public static string[] InAgentOrder(string[] urls)
    {
        var positions = Sidecar.Eureka.EurekaServerOrder.Shuffle(Enumerable.Range(0, urls.Length).ToArray(), Ip);
        var listed = new string[urls.Length];
        for (var k = 0; k < urls.Length; k++)
        {
            listed[positions[k]] = urls[k];
        }

        return listed;
    }

    public static string NewDataDir() => Path.Combine(Path.GetTempPath(), "sidecar-agent-tests", Guid.NewGuid().ToString("N"));

    public static Task<AgentHarness> StartAsync(Dictionary<string, string?> environment, FakeTimeProvider? time = null, IAppHealthProbe? probe = null, LogCapture? logs = null) =>
        AgentHarness.StartAsync(environment, services =>
        {
            logs?.Install(services);

            if (time is not null)
            {
                services.AddSingleton<TimeProvider>(time);
            }

            if (probe is not null)
            {
                services.AddSingleton(probe);
            }
        });

    /// <summary>A fake clock at a fixed, realistic date (timestamps on the wire look like real ones).</summary>
    public static TestClock NewClock() => new(new DateTimeOffset(2026, 4, 12, 21, 23, 34, TimeSpan.Zero));

    /// <summary>
    /// Advances the fake clock one step at a time (the agent's loops arm their timers asynchronously)
    /// until <paramref name="condition"/> holds; fails when it does not within <paramref name="limit"/> of fake time.
    /// Returns the fake time it took.
    /// </summary>
    /// <remarks>
    /// After each step the loops get real time to react: about 100 ms between steps (enough for an
    /// idle machine, and what keeps a run short), and up to <see cref="LastStepAllowance"/> after the
    /// last one, so a reaction that a loaded machine slows down (a fetch, then a second one) does not
    /// fail the test. A passing run waits no longer: it returns as soon as the condition holds.
    /// </remarks>
    public static async Task<TimeSpan> AdvanceUntilAsync(FakeTimeProvider time, TimeSpan limit, Func<bool> condition, string because, TimeSpan? step = null)
    {
        var stepSize = step ?? TimeSpan.FromSeconds(5);
        var advanced = TimeSpan.Zero;
        while (true)
        {
            if (await ReactedAsync(condition, advanced >= limit ? LastStepAllowance : StepAllowance))
            {
                return advanced;
            }

            if (advanced >= limit)
            {
                Assert.Fail($"Within {limit} of fake time: {because}");
            }

            time.Advance(stepSize);
            advanced += stepSize;
        }
    }

    /// <summary>Real time for the loops to react to a step before the next one.</summary>
    internal static readonly TimeSpan StepAllowance = TimeSpan.FromMilliseconds(100);

    /// <summary>Real time for the loops to react to the last step before the test fails.</summary>
    internal static readonly TimeSpan LastStepAllowance = TimeSpan.FromSeconds(10);

    // At least 25 looks 4 ms apart: on a loaded machine those take longer too, which stretches the time between steps as well.
    private static async Task<bool> ReactedAsync(Func<bool> condition, TimeSpan allowance)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var looks = 0; !condition(); looks++)
        {
            if (looks >= 25 && watch.Elapsed >= allowance)
            {
                return false;
            }

            await Task.Delay(4);
        }

        return true;
    }
}

using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Discovery;
using Sidecar.Forwarding;
using Sidecar.Registration;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Support;
using Xunit.Abstractions;

namespace Sidecar.Tests.Reliability;

/// <summary>
/// Issue 9, scenario 1: a cluster of three Eureka servers failing in every way while the app calls
/// <c>payments</c> (discovered from Eureka) through the agent. The forwarding path reads the registry
/// from memory, so no Eureka fault may fail or slow a call; registration must come back on its own.
/// </summary>
public sealed class EurekaFaultTests(ITestOutputHelper output)
{
    private const string Id = "host-a:orders:8080";

    // The registry refresher's debug line once its next refresh is armed (EurekaRegistryRefresher, event 262).
    private static int RefreshesArmed(LogCapture logs) =>
        logs.Entries.Count(e => e.Contains("Next registry refresh in", StringComparison.Ordinal));

    private sealed class Cluster : IAsyncDisposable
    {
        public FakeEureka[] Servers { get; private set; } = [];

        public Upstream[] Payments { get; private set; } = [];

        public AgentHarness Agent { get; private set; } = null!;

        public LogCapture Logs { get; } = new();

        public static async Task<Cluster> StartAsync(FakeTimeProvider? time, params (string Key, string Value)[] settings)
        {
            var cluster = new Cluster
            {
                Servers = [await FakeEureka.StartAsync(time), await FakeEureka.StartAsync(time), await FakeEureka.StartAsync(time)],
                Payments = [await Upstream.StartAsync("payments-1"), await Upstream.StartAsync("payments-2")],
            };
            foreach (var server in cluster.Servers)
            {
                cluster.SeedPayments(server);
            }

            var environment = RegisteredAgent.Environment(cluster.Servers);
            environment["APP_HEALTH_URL"] = "";
            environment["SIDECAR_LOG_LEVEL"] = "warning";
            foreach (var (key, value) in settings)
            {
                environment[key] = value;
            }

            cluster.Agent = await AgentHarness.StartAsync(environment, services =>
            {
                if (time is not null)
                {
                    // Eureka's loops run on the fake clock; the calls keep the real one (their time-outs are real I/O).
                    services.AddSingleton<TimeProvider>(time);
                    services.AddSingleton(sp => new ServicePools(
                        sp.GetRequiredService<ServiceCatalog>(), sp.GetRequiredService<ForwardingOptions>(), TimeProvider.System, sp.GetRequiredService<ForwardingLog>(),
                        sp.GetRequiredService<SelfAddresses>(), sp.GetService<Sidecar.Forwarding.ForwardingMetrics>()));
                }

                cluster.Logs.Install(services);
            });
            await Eventually.TrueAsync(() => cluster.RegisteredSomewhere && cluster.Agent.Get<EurekaRegistry>().View.GetInstances("payments")?.Count == 2,
                "the agent registered and fetched payments");
            return cluster;
        }

        public bool RegisteredSomewhere => Servers.Any(s => !s.IsDown && s.Instance("ORDERS", Id) is not null);

        /// <summary>Other services' instances, as they would (re-)register themselves.</summary>
        public void SeedPayments(FakeEureka server)
        {
            for (var i = 0; i < Payments.Length; i++)
            {
                server.Seed(EurekaInstances.Create("payments", $"127.0.0.1:payments:{Payments[i].Port}", "127.0.0.1", "127.0.0.1", Payments[i].Port));
            }
        }

        public async Task AllDownAsync()
        {
            foreach (var server in Servers)
            {
                await server.DownAsync();
            }
        }

        /// <summary>Every server restarts with an empty registry (no peer to copy from); the other services register again at once.</summary>
        public async Task AllRestartEmptyAsync()
        {
            foreach (var server in Servers)
            {
                await server.RestartAsync(empty: true);
                SeedPayments(server);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Agent.DisposeAsync();
            foreach (var server in Servers)
            {
                await server.DisposeAsync();
            }

            foreach (var upstream in Payments)
            {
                await upstream.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task EveryServerDownForAnHour_CallsKeepSucceedingFromTheCachedRegistry_AndRegistrationIsBackWithinOneRenewInterval()
    {
        var time = RegisteredAgent.NewClock();
        await using var cluster = await Cluster.StartAsync(time);
        var agent = cluster.Agent;
        await using var load = new LoadRunner(agent.BaseUri, "v1/invoke/payments/pay", concurrency: 4, pause: TimeSpan.FromMilliseconds(2)).Start();
        await Task.Delay(300);

        // An hour without any Eureka server, in 10 s steps of the fake clock.
        load.Mark("every server down for 1 h");
        await cluster.AllDownAsync();
        for (var step = 0; step < 360; step++)
        {
            var refreshes = RefreshesArmed(cluster.Logs);
            time.Advance(TimeSpan.FromSeconds(10));
            if (step % 3 == 2)
            {
                // A registry refresh falls due every 30 s: it has run (against servers that are all down)
                // once the refresher sleeps again, so the registry below was kept, not just never refreshed.
                await Eventually.TrueAsync(() => RefreshesArmed(cluster.Logs) > refreshes, $"the registry refresh at {(step + 1) * 10} s ran");
            }
            else
            {
                await Task.Delay(3); // the registration's retries react between steps
            }
        }

        Assert.Equal(2, agent.Get<EurekaRegistry>().View.GetInstances("payments")?.Count);
        using (var ready = await agent.Client.GetAsync("v1/health/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode); // an outage of Eureka must not make the whole fleet unready
        }

        var attempts = cluster.Logs.Entries.Count(e => e.Contains("[213]", StringComparison.Ordinal));

        // The servers come back empty: the agent registers again within one renew interval (the backoff is capped at it).
        load.Mark("servers back, empty");
        await cluster.AllRestartEmptyAsync();
        var backAfter = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => cluster.RegisteredSomewhere,
            "the agent registered again within one renew interval", TimeSpan.FromSeconds(1));

        // A quick restart between two renewals: the next renew is answered 404, which forces a registration at once.
        load.Mark("quick empty restart");
        await cluster.AllRestartEmptyAsync();
        Assert.False(cluster.RegisteredSomewhere);
        var reRegisteredAfter = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => cluster.RegisteredSomewhere,
            "the renew's 404 forced a registration within one renew interval", TimeSpan.FromSeconds(1));
        await Task.Delay(200);
        await load.StopAsync();

        var figures = new Figures("eureka: every server down for 1 h (fake clock), then back empty");
        foreach (var phase in load.Phases)
        {
            figures.Add(load[phase], phase);
            Assert.True(load[phase].Failed == 0, $"calls failed in phase '{phase}': {load[phase].Describe()}");
            Assert.True(load[phase].Sent > 0, $"no calls in phase '{phase}'");
        }

        figures.Lost = "0 calls, 0 instances of payments";
        figures.Note($"{attempts} failed registration rounds in the hour (backoff 1 s doubling to 30 s)")
            .Note($"registered again {backAfter.TotalSeconds:0} s after the servers' return, {reRegisteredAfter.TotalSeconds:0} s after a quick empty restart (renew interval 30 s)")
            .Report(output);
        Assert.InRange(attempts, 100, 200); // 1 h at the 30 s cap: about 120 rounds, not thousands
        Assert.DoesNotContain(cluster.Logs.Entries, e => e.StartsWith("Error", StringComparison.Ordinal));
    }

    public static TheoryData<string> Faults => ["down", "500", "hang"];

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task OneOfThreeServersFailing_IsFailedOver_AndForwardedCallsAreNeitherFailedNorSlowed(string fault)
    {
        await using var cluster = await Cluster.StartAsync(null,
            ("EUREKA_RENEW_INTERVAL", "1s"), ("EUREKA_FETCH_INTERVAL", "1s"), ("Eureka__ReadTimeout", "1s"));
        var agent = cluster.Agent;
        var client = agent.Get<EurekaHttpClient>();
        await Eventually.TrueAsync(() => client.Current is not null, "the agent knows its server");
        var sticky = cluster.Servers.Single(s => s.ServiceUrl.AbsoluteUri == client.Current!.Display);
        await using var load = new LoadRunner(agent.BaseUri, "v1/invoke/payments/pay", concurrency: 4, pause: TimeSpan.FromMilliseconds(2)).Start();
        await Task.Delay(1000);

        load.Mark("sticky server " + fault);
        var started = DateTime.UtcNow;
        switch (fault)
        {
            case "down":
                await sticky.DownAsync();
                break;
            case "500":
                sticky.Fail500 = true;
                break;
            default:
                sticky.Hang = true;
                break;
        }

        await Eventually.TrueAsync(() => client.Current is { } current && current.Display != sticky.ServiceUrl.AbsoluteUri &&
            cluster.Servers.Any(s => s != sticky && s.Instance("ORDERS", Id) is not null), "the agent failed over and registered with another server");
        var failoverTime = DateTime.UtcNow - started;
        await Task.Delay(2500); // renewals and fetches go on against the others while the sticky one stays broken
        await load.StopAsync();

        var baseline = load["baseline"];
        var faulty = load["sticky server " + fault];
        new Figures($"eureka: 1 of 3 servers {fault}")
            .Add(baseline, "baseline")
            .Add(faulty, "fault")
            .Note($"failed over and registered elsewhere in {failoverTime.TotalMilliseconds:0} ms (read time-out 1 s, renew 1 s)")
            .Note($"p99 {baseline.Percentile(99):0.0} -> {faulty.Percentile(99):0.0} ms, max {faulty.Percentile(100):0.0} ms")
            .Report(output);
        Assert.Equal(0, baseline.Failed + faulty.Failed);

        // A forwarded call never waits for Eureka: a stall would last the read time-out (1 s).
        Assert.True(faulty.Percentile(99) < 300, $"forwarded calls slowed down while a Eureka server was {fault}: {faulty.Describe()}");
        Assert.Equal(2, agent.Get<EurekaRegistry>().View.GetInstances("payments")?.Count);
    }

    [Fact]
    public async Task FlappingServers_NeverFailACall_AndTheAgentIsRegisteredWithinARenewIntervalAndAReadTimeOutOfStability()
    {
        await using var cluster = await Cluster.StartAsync(null,
            ("EUREKA_RENEW_INTERVAL", "1s"), ("EUREKA_FETCH_INTERVAL", "1s"), ("Eureka__ReadTimeout", "500ms"));
        await using var load = new LoadRunner(cluster.Agent.BaseUri, "v1/invoke/payments/pay", concurrency: 4, pause: TimeSpan.FromMilliseconds(2)).Start();
        load.Mark("flapping");

        // Each server flips between up, down (refused) and 500 at random every 100-400 ms for 4 s; at times all are out.
        var random = new Random(9);
        var flips = 0;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(4);
        while (DateTime.UtcNow < until)
        {
            var server = cluster.Servers[random.Next(cluster.Servers.Length)];
            switch (random.Next(3))
            {
                case 0:
                    await server.DownAsync();
                    break;
                case 1:
                    server.Fail500 = true;
                    await server.RestartAsync(empty: false);
                    break;
                default:
                    server.Fail500 = false;
                    await server.RestartAsync(empty: random.Next(4) == 0); // sometimes back without the lease
                    cluster.SeedPayments(server);
                    break;
            }

            flips++;
            await Task.Delay(random.Next(100, 400));
        }

        // Stable again: every server up and healthy.
        load.Mark("stable");
        foreach (var server in cluster.Servers)
        {
            server.Fail500 = false;
            await server.RestartAsync(empty: false);
        }

        // Once every server is stable the agent's next attempt comes within one renew interval (its retry
        // delay never exceeds it); that attempt may first wait out one read time-out on a server that went
        // away under it, then fail over. 1 s more for a busy shared machine (2 cores, parallel tests).
        var renewInterval = TimeSpan.FromSeconds(1);
        var readTimeout = TimeSpan.FromMilliseconds(500);
        var bound = renewInterval + readTimeout + TimeSpan.FromSeconds(1);
        var stableAt = DateTime.UtcNow;
        await Eventually.TrueAsync(() => cluster.Servers.Any(s => s.Instance("ORDERS", Id)?.Status == Sidecar.Eureka.InstanceStatus.Up &&
                                                                  s.Instance("ORDERS", Id)!.LastDirtyTimestamp > 0) &&
                                         cluster.Agent.Get<EurekaRegistrationService>().Check().Detail.StartsWith("registered with", StringComparison.Ordinal),
            "the agent is registered and its last operation succeeded", TimeSpan.FromSeconds(5));
        var settled = DateTime.UtcNow - stableAt;
        await Task.Delay(500);
        await load.StopAsync();

        var registrations = cluster.Servers.Sum(s => s.RequestsFor("POST").Count);
        var figures = new Figures("eureka: 3 servers flapping for 4 s")
            .Add(load["flapping"], "flapping")
            .Add(load["stable"], "stable")
            .Note($"{flips} flips, {registrations} registrations sent, settled {settled.TotalMilliseconds:0} ms after the servers were stable (renew 1 s, read time-out 500 ms, bound {bound.TotalMilliseconds:0} ms)");
        figures.Report(output);
        Assert.Equal(0, load["flapping"].Failed + load["stable"].Failed);
        Assert.True(settled < bound, $"settled after {settled}, more than a renew interval and a read time-out ({bound})");
        Assert.DoesNotContain(cluster.Logs.Entries, e => e.StartsWith("Error", StringComparison.Ordinal));
        Assert.Equal(2, cluster.Agent.Get<EurekaRegistry>().View.GetInstances("payments")?.Count);
    }
}

using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Sidecar.Discovery;
using Sidecar.Forwarding;
using Sidecar.Forwarding.Http1;
using Sidecar.Observability;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Observability;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// Issue 13, point 9: services that come, get called and go must not leave their state behind. Their
/// pools, balancing and ejection state, counters and series are freed once they have been gone for
/// <see cref="ServicePools.Retention"/>; and however many services there are at once, the number of
/// series is bounded (<see cref="ForwardingMetrics.MaxServices"/> services, the rest under "other").
/// </summary>
public sealed class ServiceChurnTests
{
    private static async Task<(AgentHarness Agent, FakeServiceInstanceSource Source, Microsoft.Extensions.Time.Testing.FakeTimeProvider Time)> StartAsync()
    {
        var source = new FakeServiceInstanceSource();
        var time = RegisteredAgent.NewClock();
        var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "", ["SIDECAR_LOG_LEVEL"] = "warning" }, services =>
        {
            services.AddSingleton<IServiceInstanceSource>(source);
            services.AddSingleton<TimeProvider>(time);
        });
        return (agent, source, time);
    }

    [Fact]
    public async Task ThreeThousandServicesThatCameAndWent_LeaveNoPoolsNorSeries_AfterTheRetention()
    {
        await using var upstream = await Upstream.StartAsync("any");
        var (agent, source, time) = await StartAsync();
        await using (agent)
        {
            var pools = agent.Get<ServicePools>();
            for (var i = 0; i < 3000; i++)
            {
                var name = $"svc{i}";
                source.Set(name, FakeServiceInstanceSource.Instance(name, upstream.Port));
                using var response = await agent.Client.GetAsync($"v1/invoke/{name}/x");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                source.Remove(name);
            }

            var during = await Scrape.TakeAsync(agent);
            var seriesDuring = ForwardSeries(during);
            Assert.Equal(3000, upstream.Count);
            Assert.Equal(3000, pools.All.Count); // nobody asked for them again: nothing freed them so far
            Assert.InRange(ServiceLabels(during).Count, 1, ForwardingMetrics.MaxServices + 2); // bounded at once: 200 services, "other", "unknown"
            Assert.Equal(3000, (int)during.Samples.Where(s => s.Name == "sidecar_forward_requests_total").Sum(s => s.Value));

            // Gone for the retention (a sweep each minute): everything they left is freed.
            var took = await RegisteredAgent.AdvanceUntilAsync(time, pools.Retention + TimeSpan.FromMinutes(3), () => pools.All.Count == 0,
                "the pools of the departed services were freed", TimeSpan.FromMinutes(1));
            Assert.InRange(took, pools.Retention, pools.Retention + TimeSpan.FromMinutes(2));
            Assert.Empty(pools.Metrics.Services);

            var after = await Scrape.TakeAsync(agent);
            Assert.DoesNotContain(ServiceLabels(after), label => label.StartsWith("svc", StringComparison.Ordinal));
            Assert.True(ForwardSeries(after) < 40, $"{ForwardSeries(after)} forwarding series left of {seriesDuring}");
        }
    }

    [Fact]
    public async Task AServiceThatComesBackWithinTheRetention_KeepsItsCounters_OneThatDoesNotIsFreed()
    {
        await using var upstream = await Upstream.StartAsync("any");
        var (agent, source, time) = await StartAsync();
        await using (agent)
        {
            var pools = agent.Get<ServicePools>();
            foreach (var name in new[] { "orders", "billing" })
            {
                source.Set(name, FakeServiceInstanceSource.Instance(name, upstream.Port));
                using var response = await agent.Client.GetAsync($"v1/invoke/{name}/x");
                source.Remove(name);
            }

            Assert.Equal(0, pools.Sweep()); // both seen gone
            time.Advance(pools.Retention - TimeSpan.FromMinutes(1));
            Assert.Equal(0, pools.Sweep()); // not for long enough

            source.Set("orders", FakeServiceInstanceSource.Instance("orders", upstream.Port));
            using (await agent.Client.GetAsync("v1/invoke/orders/x"))
            {
            }

            time.Advance(TimeSpan.FromMinutes(1));
            pools.Sweep(); // (the agent's own sweeper may have run first at this minute)
            Assert.Equal(["orders"], pools.Metrics.Services); // billing, gone for the retention, is freed; orders is back
            Assert.Null(pools.Peek("billing"));
            var scrape = await Scrape.TakeAsync(agent);
            Assert.Equal(2, scrape.Value("sidecar_forward_requests_total", ("service", "orders"), ("method", "GET"), ("code", "200")));
            Assert.DoesNotContain(scrape.Samples, s => s.Labels.GetValueOrDefault("service") == "billing");
        }
    }

    [Fact]
    public async Task OneConnection_SeesAServiceLeaveAndComeBack_ThroughTheForwardingCore()
    {
        // The forwarding core keeps a connection's last pool (ServicePools.IsCurrent): the same request on the same
        // connection must still see the catalog move, and never reach the instance of a pool the service left.
        await using var first = await Upstream.StartAsync("first");
        await using var second = await Upstream.StartAsync("second");
        var (agent, source, _) = await StartAsync();
        await using (agent)
        {
            var pools = agent.Get<ServicePools>();
            source.Set("orders", FakeServiceInstanceSource.Instance("orders", first.Port));
            Assert.Equal("first", await agent.Client.GetStringAsync("v1/invoke/orders/x"));
            var pool = pools.Find("orders")!;
            Assert.Equal("first", await agent.Client.GetStringAsync("v1/invoke/orders/x"));
            Assert.True(pools.IsCurrent(pool));

            // Gone and back at another instance between two calls of the connection: its pool then is not the one kept.
            source.Remove("orders");
            Assert.False(pools.IsCurrent(pool)); // the catalog moved
            source.Set("orders", FakeServiceInstanceSource.Instance("orders", second.Port));
            Assert.Equal("second", await agent.Client.GetStringAsync("v1/invoke/orders/x"));
            Assert.Equal(3, agent.Get<ForwardingCore>().Served); // all three on the core (the connection is Kestrel's after a call it does not take)

            source.Remove("orders");
            using (var gone = await agent.Client.GetAsync("v1/invoke/orders/x"))
            {
                Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
            }

            Assert.Equal(2, first.Count);
            Assert.Equal(1, second.Count);
        }
    }

    [Fact]
    public async Task ManyServicesAtOnce_CountBeyondTheCapUnderOther()
    {
        await using var upstream = await Upstream.StartAsync("any");
        var (agent, source, _) = await StartAsync();
        await using (agent)
        {
            const int Count = ForwardingMetrics.MaxServices + 50;
            for (var i = 0; i < Count; i++)
            {
                source.Set($"svc{i}", FakeServiceInstanceSource.Instance($"svc{i}", upstream.Port));
            }

            for (var i = 0; i < Count; i++)
            {
                using var response = await agent.Client.GetAsync($"v1/invoke/svc{i}/x");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            var scrape = await Scrape.TakeAsync(agent);
            var labels = ServiceLabels(scrape);
            Assert.Equal(ForwardingMetrics.MaxServices, labels.Count(l => l.StartsWith("svc", StringComparison.Ordinal)));
            Assert.Contains("other", labels);
            Assert.Equal(50, scrape.Value("sidecar_forward_requests_total", ("service", "other"), ("method", "GET"), ("code", "200")));
            Assert.Equal(50, scrape.Value("sidecar_forward_instances", ("service", "other"))); // the 50 pools beyond the cap, added up
            Assert.Equal(Count, (int)scrape.Samples.Where(s => s.Name == "sidecar_forward_requests_total").Sum(s => s.Value));
        }
    }

    private static HashSet<string> ServiceLabels(Scrape scrape) =>
        [.. scrape.Samples.Where(s => s.Name.StartsWith("sidecar_forward_", StringComparison.Ordinal) && s.Labels.ContainsKey("service")).Select(s => s.Labels["service"])];

    private static int ForwardSeries(Scrape scrape) => scrape.Samples.Count(s => s.Name.StartsWith("sidecar_forward_", StringComparison.Ordinal));
}

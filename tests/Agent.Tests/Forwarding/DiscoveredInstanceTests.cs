using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Discovery;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// Instances as Eureka gives them (statuses, zones, changes between fetches), through a fake
/// <see cref="IServiceInstanceSource"/>, and outlier ejection on a fake clock.
/// </summary>
public sealed class DiscoveredInstanceTests
{
    private static Task<AgentHarness> StartAgentAsync(FakeServiceInstanceSource source, TimeProvider? time = null, params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string?>();
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return AgentHarness.StartAsync(environment, services =>
        {
            services.AddSingleton<IServiceInstanceSource>(source);
            if (time is not null)
            {
                services.AddSingleton(time);
            }
        });
    }

    private static async Task CallAsync(AgentHarness agent, int times, HttpStatusCode expected = HttpStatusCode.OK)
    {
        for (var i = 0; i < times; i++)
        {
            using var response = await agent.Client.GetAsync("v1/invoke/orders/x");
            Assert.Equal(expected, response.StatusCode);
        }
    }

    [Fact]
    public async Task OnlyUpInstances_GetCalls()
    {
        await using var up = await Upstream.StartAsync("up");
        await using var down = await Upstream.StartAsync("down");
        await using var outOfService = await Upstream.StartAsync("oos");
        await using var starting = await Upstream.StartAsync("starting");
        var source = new FakeServiceInstanceSource();
        source.Set("orders",
            FakeServiceInstanceSource.Instance("orders", up.Port),
            FakeServiceInstanceSource.Instance("orders", down.Port, InstanceStatus.Down),
            FakeServiceInstanceSource.Instance("orders", outOfService.Port, InstanceStatus.OutOfService),
            FakeServiceInstanceSource.Instance("orders", starting.Port, InstanceStatus.Starting));
        await using var agent = await StartAgentAsync(source);

        await CallAsync(agent, 10);

        Assert.Equal(10, up.Count);
        Assert.Equal(0, down.Count + outOfService.Count + starting.Count);
    }

    [Fact]
    public async Task ServiceWithNoUpInstance_Is503NoInstance()
    {
        await using var down = await Upstream.StartAsync("down");
        var source = new FakeServiceInstanceSource();
        source.Set("orders", FakeServiceInstanceSource.Instance("orders", down.Port, InstanceStatus.Down));
        await using var agent = await StartAgentAsync(source);

        using var response = await agent.Client.GetAsync("v1/invoke/orders/x");

        await ForwardingTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "no-instance");
        Assert.Equal(0, down.Count);
    }

    [Fact]
    public async Task RegistryChanges_AreFollowed_WithoutRestart()
    {
        await using var first = await Upstream.StartAsync("first");
        await using var second = await Upstream.StartAsync("second");
        var source = new FakeServiceInstanceSource();
        source.Set("orders", FakeServiceInstanceSource.Instance("orders", first.Port));
        await using var agent = await StartAgentAsync(source);

        await CallAsync(agent, 3);
        source.Set("orders", FakeServiceInstanceSource.Instance("orders", first.Port, InstanceStatus.OutOfService), FakeServiceInstanceSource.Instance("orders", second.Port));
        await CallAsync(agent, 3);
        source.Remove("orders");
        using var gone = await agent.Client.GetAsync("v1/invoke/orders/x");

        Assert.Equal(3, first.Count);
        Assert.Equal(3, second.Count);
        await ForwardingTests.AssertProblemAsync(gone, HttpStatusCode.NotFound, "unknown-service");
    }

    [Fact]
    public async Task SameZone_IsPreferred_OtherZonesServeWhenItIsGone()
    {
        await using var local = await Upstream.StartAsync("local");
        await using var remote = await Upstream.StartAsync("remote");
        var source = new FakeServiceInstanceSource();
        source.Set("orders", FakeServiceInstanceSource.Instance("orders", local.Port, zone: "z1"), FakeServiceInstanceSource.Instance("orders", remote.Port, zone: "z2"));
        await using var agent = await StartAgentAsync(source, null, ("EUREKA_ZONE", "z1"));

        await CallAsync(agent, 10);
        Assert.Equal(10, local.Count);
        Assert.Equal(0, remote.Count);

        source.Set("orders", FakeServiceInstanceSource.Instance("orders", local.Port, InstanceStatus.Down, "z1"), FakeServiceInstanceSource.Instance("orders", remote.Port, zone: "z2"));
        await CallAsync(agent, 5);
        Assert.Equal(5, remote.Count);
    }

    [Fact]
    public async Task ARefusedLocalInstance_IsRetriedInAnotherZone()
    {
        await using var remote = await Upstream.StartAsync("remote");
        var source = new FakeServiceInstanceSource();
        source.Set("orders", FakeServiceInstanceSource.Instance("orders", LoopbackServer.RefusingPort(), zone: "z1"), FakeServiceInstanceSource.Instance("orders", remote.Port, zone: "z2"));
        await using var agent = await StartAgentAsync(source, null, ("EUREKA_ZONE", "z1"));

        using var response = await agent.Client.PostAsync("v1/invoke/orders/x", new StringContent("x"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, remote.Count);
    }

    [Fact]
    public async Task AFailingInstance_IsEjected_AndComesBackAfterTheWindow_LongerEachTime()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var bad = await Upstream.StartAsync("bad", (context, _) =>
        {
            context.Response.StatusCode = 500;
            return Task.CompletedTask;
        });
        await using var good = await Upstream.StartAsync("good");
        var source = new FakeServiceInstanceSource();
        source.Set("orders", FakeServiceInstanceSource.Instance("orders", bad.Port), FakeServiceInstanceSource.Instance("orders", good.Port));
        await using var agent = await StartAgentAsync(source, time, ("Forwarding__Retries", "0"));

        async Task FailUntilEjectedAsync(int failures)
        {
            while (bad.Count < failures)
            {
                using var response = await agent.Client.GetAsync("v1/invoke/orders/x");
                Assert.True(good.Count + bad.Count < 100, "the bad instance never got enough calls");
            }
        }

        async Task<int> BadCallsInAsync(int calls)
        {
            var before = bad.Count;
            for (var i = 0; i < calls; i++)
            {
                using var response = await agent.Client.GetAsync("v1/invoke/orders/x");
            }

            return bad.Count - before;
        }

        await FailUntilEjectedAsync(5);
        Assert.Equal(0, await BadCallsInAsync(20));
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(0, await BadCallsInAsync(10));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(await BadCallsInAsync(10) > 0, "the instance did not come back after 30 s");

        // Second ejection: 60 s.
        await FailUntilEjectedAsync(10);
        Assert.Equal(0, await BadCallsInAsync(10));
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(0, await BadCallsInAsync(10));
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(await BadCallsInAsync(10) > 0, "the instance did not come back after 60 s");
    }

    [Fact]
    public async Task AnInstanceThatRefusesEveryFirstAttempt_IsEjected_WithNoRetryToCountIt()
    {
        // Retries off: every failure is a call's first attempt (ForwardCall.RunAttemptsAsync), which must count it.
        var refusing = LoopbackServer.RefusingPort();
        await using var good = await Upstream.StartAsync("good");
        var source = new FakeServiceInstanceSource();
        source.Set("orders", FakeServiceInstanceSource.Instance("orders", refusing), FakeServiceInstanceSource.Instance("orders", good.Port));
        await using var agent = await StartAgentAsync(source, null, ("Forwarding__Retries", "0"));

        var failed = 0;
        for (var i = 0; i < 30; i++)
        {
            using var response = await agent.Client.GetAsync("v1/invoke/orders/x");
            failed += response.StatusCode == HttpStatusCode.OK ? 0 : 1;
        }

        var state = agent.Get<Sidecar.Forwarding.ServicePools>().Find("orders")!.Instances.Single(s => s.Instance.Port == refusing);
        Assert.True(state.IsEjected(System.Diagnostics.Stopwatch.GetTimestamp()), $"not ejected after {failed} failed calls");
        Assert.InRange(failed, 5, 10);
        for (var i = 0; i < 10; i++)
        {
            using var response = await agent.Client.GetAsync("v1/invoke/orders/x");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task FourHundreds_NeverEject()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var picky = await Upstream.StartAsync("picky", (context, _) =>
        {
            context.Response.StatusCode = 404;
            return Task.CompletedTask;
        });
        await using var good = await Upstream.StartAsync("good");
        var source = new FakeServiceInstanceSource();
        source.Set("orders", FakeServiceInstanceSource.Instance("orders", picky.Port), FakeServiceInstanceSource.Instance("orders", good.Port));
        await using var agent = await StartAgentAsync(source, time);

        for (var i = 0; i < 40; i++)
        {
            using var response = await agent.Client.GetAsync("v1/invoke/orders/x");
        }

        Assert.InRange(picky.Count, 14, 26);
    }
}

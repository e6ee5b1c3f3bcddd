using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Forwarding;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// Issue 17, end to end with real upstreams on loopback: the bulkhead, the rate limit and the circuit
/// breaker answer for the service before anything is sent (docs/resilience.md). Windows and break
/// durations run on a FakeTimeProvider.
/// </summary>
public sealed class ResilienceTests
{
    private static Task<AgentHarness> StartAgentAsync(string routes, FakeTimeProvider? time, params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string?> { ["ROUTES"] = routes, ["SIDECAR_LOG_LEVEL"] = "warning" };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return AgentHarness.StartAsync(environment, time is null ? null : services => services.AddSingleton<TimeProvider>(time));
    }

    /// <summary>An upstream that holds every request until <see cref="Gate.Open"/>.</summary>
    private sealed class Gate
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Func<HttpContext, int, Task> Handler => async (context, _) =>
        {
            await _open.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await context.Response.WriteAsync("done");
        };

        public void Open() => _open.TrySetResult();
    }

    [Fact]
    public async Task Bulkhead_SixConcurrentCallsAgainstALimitOfTwo_TwoAreSent_FourAre503AtOnce()
    {
        var gate = new Gate();
        await using var slow = await Upstream.StartAsync("slow", gate.Handler);
        await using var agent = await StartAgentAsync($"orders={slow.Url}", null, ("Forwarding__Services__orders__MaxConcurrentRequests", "2"));

        var calls = Enumerable.Range(0, 6).Select(_ => agent.Client.GetAsync("v1/invoke/orders/x")).ToList();
        await Eventually.TrueAsync(() => slow.Count == 2, "two calls reached the upstream");
        // The four others are answered while the two are still held.
        await Eventually.TrueAsync(() => calls.Count(c => c.IsCompleted) == 4, "four calls were refused at once");
        var refused = calls.Where(c => c.IsCompleted).Select(c => c.Result).ToList();
        foreach (var response in refused)
        {
            await ForwardingTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, ForwardingProblems.ConcurrencyLimit);
            Assert.False(response.Headers.Contains("Retry-After"));
        }

        gate.Open();
        var all = await Task.WhenAll(calls);
        Assert.Equal(2, all.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(2, slow.Count); // nothing of the refused four was sent
        foreach (var response in all)
        {
            response.Dispose();
        }

        // The slots are free again.
        using var after = await agent.Client.GetAsync("v1/invoke/orders/x");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Bulkhead_ASlowServiceFull_DoesNotTakeCapacityFromAnother()
    {
        var gate = new Gate();
        await using var slow = await Upstream.StartAsync("slow", gate.Handler);
        await using var fast = await Upstream.StartAsync("fast");
        // The global value gives each service a bulkhead of its own.
        await using var agent = await StartAgentAsync($"reports={slow.Url},orders={fast.Url}", null, ("Forwarding__MaxConcurrentRequests", "2"));

        var held = Enumerable.Range(0, 2).Select(_ => agent.Client.GetAsync("v1/invoke/reports/x")).ToList();
        await Eventually.TrueAsync(() => slow.Count == 2, "reports is full");
        using (var full = await agent.Client.GetAsync("v1/invoke/reports/x"))
        {
            await ForwardingTests.AssertProblemAsync(full, HttpStatusCode.ServiceUnavailable, ForwardingProblems.ConcurrencyLimit);
        }

        // orders has its own two slots, each freed after its call: ten calls, two at a time, all pass.
        for (var i = 0; i < 5; i++)
        {
            var pair = await Task.WhenAll(agent.Client.GetAsync("v1/invoke/orders/x"), agent.Client.GetAsync("v1/invoke/orders/x"));
            Assert.All(pair, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            foreach (var response in pair)
            {
                response.Dispose();
            }
        }

        Assert.Equal(10, fast.Count);
        Assert.All(held, c => Assert.False(c.IsCompleted));
        gate.Open();
        foreach (var response in await Task.WhenAll(held))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
        }
    }

    [Fact]
    public async Task Bulkhead_WithAQueue_TheQueuedCallWaitsForASlot_TheOneBeyondIsRefused()
    {
        var gate = new Gate();
        await using var slow = await Upstream.StartAsync("slow", gate.Handler);
        await using var agent = await StartAgentAsync($"orders={slow.Url}", null,
            ("Forwarding__Services__orders__MaxConcurrentRequests", "1"), ("Forwarding__Services__orders__MaxQueuedRequests", "1"));
        var pools = agent.Get<ServicePools>();

        var first = agent.Client.GetAsync("v1/invoke/orders/x");
        await Eventually.TrueAsync(() => slow.Count == 1, "the first call is in flight");
        var queued = agent.Client.GetAsync("v1/invoke/orders/x");
        await Eventually.TrueAsync(() => pools.Peek("orders")!.Admission!.Queued == 1, "the second call waits");
        using (var refused = await agent.Client.GetAsync("v1/invoke/orders/x"))
        {
            await ForwardingTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, ForwardingProblems.ConcurrencyLimit);
        }

        Assert.Equal(1, slow.Count);
        gate.Open();
        using var a = await first;
        using var b = await queued;
        Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        Assert.Equal(HttpStatusCode.OK, b.StatusCode);
        Assert.Equal(2, slow.Count);
    }

    [Fact]
    public async Task RateLimit_ABurstAgainstFivePerSecond_FivePass_TheRestAre429WithRetryAfter_AndNothingIsSent()
    {
        var time = RegisteredAgent.NewClock();
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync($"orders={orders.Url}", time, ("Forwarding__Services__orders__RateLimit", "5"));

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 12; i++)
        {
            using var response = await agent.Client.GetAsync("v1/invoke/orders/x");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                await ForwardingTests.AssertProblemAsync(response, HttpStatusCode.TooManyRequests, ForwardingProblems.RateLimited);
                Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
            }
        }

        Assert.Equal(Enumerable.Repeat(HttpStatusCode.OK, 5).Concat(Enumerable.Repeat(HttpStatusCode.TooManyRequests, 7)), statuses);
        Assert.Equal(5, orders.Count);

        // 400 ms refill two calls; a second refills the whole burst, never more.
        time.Advance(TimeSpan.FromMilliseconds(400));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], await StatusesAsync(agent, 3));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 5), HttpStatusCode.TooManyRequests], await StatusesAsync(agent, 6));
        Assert.Equal(12, orders.Count);
    }

    [Fact]
    public async Task RateLimit_ABurstSetApart_LetsThatManyThroughAtOnce()
    {
        var time = RegisteredAgent.NewClock();
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAgentAsync($"orders={orders.Url}", time, ("Forwarding__RateLimit", "2"), ("Forwarding__RateLimitBurst", "4"));

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 4), HttpStatusCode.TooManyRequests], await StatusesAsync(agent, 5));
        Assert.Equal(4, orders.Count);
    }

    [Fact]
    public async Task CircuitBreaker_OpensOnFailures_FailsFastWithoutSending_ThenOneTrialClosesItAfterRecovery()
    {
        var time = RegisteredAgent.NewClock();
        var failing = 1;
        var trialGate = new Gate();
        var holdTrial = 0;
        await using var orders = await Upstream.StartAsync("orders", async (context, _) =>
        {
            if (Volatile.Read(ref holdTrial) == 1)
            {
                await trialGate.Handler(context, 0);
                return;
            }

            context.Response.StatusCode = Volatile.Read(ref failing) == 1 ? 500 : 200;
            await context.Response.WriteAsync("x");
        });
        await using var agent = await StartAgentAsync($"orders={orders.Url}", time,
            ("Forwarding__Services__orders__CircuitBreaker", "true"),
            ("Forwarding__Services__orders__CircuitBreakerMinimumThroughput", "4"),
            ("Forwarding__Services__orders__Retries", "0"),
            ("Forwarding__Services__orders__EjectionFailures", "0"));
        var breaker = agent.Get<ServicePools>().Find("orders")!.Admission!.Breaker!;

        // Three failures of three: under the minimum throughput, still closed; the fourth opens it.
        Assert.Equal(Enumerable.Repeat(HttpStatusCode.InternalServerError, 4), await StatusesAsync(agent, 4));
        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.Equal(4, orders.Count);

        // Open: refused at once, nothing sent, Retry-After the rest of the break (5 s by default).
        time.Advance(TimeSpan.FromSeconds(2));
        using (var refused = await agent.Client.GetAsync("v1/invoke/orders/x"))
        {
            await ForwardingTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, ForwardingProblems.CircuitOpen);
            Assert.Equal(TimeSpan.FromSeconds(3), refused.Headers.RetryAfter?.Delta);
        }

        Assert.Equal(4, orders.Count);

        // After the break the service has recovered: one trial call goes through, the others wait for its outcome.
        Volatile.Write(ref failing, 0);
        Volatile.Write(ref holdTrial, 1);
        time.Advance(TimeSpan.FromSeconds(3));
        var trial = agent.Client.GetAsync("v1/invoke/orders/x");
        await Eventually.TrueAsync(() => orders.Count == 5, "the trial call reached the upstream");
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        using (var during = await agent.Client.GetAsync("v1/invoke/orders/x"))
        {
            await ForwardingTests.AssertProblemAsync(during, HttpStatusCode.ServiceUnavailable, ForwardingProblems.CircuitOpen);
        }

        Volatile.Write(ref holdTrial, 0);
        trialGate.Open();
        using (var passed = await trial)
        {
            Assert.Equal(HttpStatusCode.OK, passed.StatusCode);
        }

        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.Equal(Enumerable.Repeat(HttpStatusCode.OK, 5), await StatusesAsync(agent, 5));
        Assert.Equal(10, orders.Count);
    }

    [Fact]
    public async Task CircuitBreaker_AFailedTrial_OpensItAgainForAnotherBreak()
    {
        var time = RegisteredAgent.NewClock();
        await using var orders = await Upstream.StartAsync("orders", (context, _) =>
        {
            context.Response.StatusCode = 503;
            return Task.CompletedTask;
        });
        await using var agent = await StartAgentAsync($"orders={orders.Url}", time,
            ("Forwarding__CircuitBreaker", "true"), ("Forwarding__CircuitBreakerMinimumThroughput", "2"),
            ("Forwarding__CircuitBreakerBreakDuration", "10s"), ("Forwarding__Retries", "0"));

        Assert.Equal([HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable], await StatusesAsync(agent, 2));
        time.Advance(TimeSpan.FromSeconds(10));
        using (var trial = await agent.Client.GetAsync("v1/invoke/orders/x"))
        {
            Assert.False(trial.Headers.Contains("X-Sidecar-Error")); // the instance's own 503: it was sent
        }

        Assert.Equal(3, orders.Count);
        using var refused = await agent.Client.GetAsync("v1/invoke/orders/x");
        await ForwardingTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, ForwardingProblems.CircuitOpen);
        Assert.Equal(TimeSpan.FromSeconds(10), refused.Headers.RetryAfter?.Delta);
        Assert.Equal(3, orders.Count);
    }

    [Fact]
    public async Task CircuitBreaker_FourHundreds_AreNotFailures()
    {
        var time = RegisteredAgent.NewClock();
        await using var orders = await Upstream.StartAsync("orders", (context, _) =>
        {
            context.Response.StatusCode = 404;
            return Task.CompletedTask;
        });
        await using var agent = await StartAgentAsync($"orders={orders.Url}", time,
            ("Forwarding__CircuitBreaker", "true"), ("Forwarding__CircuitBreakerMinimumThroughput", "2"));

        Assert.Equal(Enumerable.Repeat(HttpStatusCode.NotFound, 10), await StatusesAsync(agent, 10));
        Assert.Equal(10, orders.Count);
    }

    private static async Task<List<HttpStatusCode>> StatusesAsync(AgentHarness agent, int count)
    {
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < count; i++)
        {
            using var response = await agent.Client.GetAsync("v1/invoke/orders/x");
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }
}

using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Sidecar.Observability;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Observability;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// Issue 17, point 4, end to end with real upstreams on loopback: a first attempt with no answer after
/// <c>HedgeAfter</c> is hedged to the other instance, the first answer wins and the other attempt is
/// cancelled (docs/resilience.md#hedging). The first request to reach either upstream is the slow one, so
/// the first attempt is always the slow one whichever instance the agent picks.
/// </summary>
public sealed class HedgingTests
{
    private static readonly TimeSpan SlowDelay = TimeSpan.FromSeconds(10);

    /// <summary>Two instances of one service; the first request to arrive waits (until cancelled), every later one answers at once.</summary>
    private sealed class Instances : IAsyncDisposable
    {
        private readonly TaskCompletionSource _slowAborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TimeSpan _delay;
        private readonly int _slow;
        private int _arrivals;

        private Instances(TimeSpan delay, int slow)
        {
            _delay = delay;
            _slow = slow;
        }

        public Upstream A { get; private set; } = null!;

        public Upstream B { get; private set; } = null!;

        public int Arrivals => Volatile.Read(ref _arrivals);

        public string Route => $"orders={A.Url};{B.Url}";

        /// <summary>Completes when the slow request's connection was aborted or its request cancelled.</summary>
        public Task SlowAborted => _slowAborted.Task;

        public static async Task<Instances> StartAsync(TimeSpan slowDelay, int slowArrivals = 1)
        {
            var instances = new Instances(slowDelay, slowArrivals);
            instances.A = await Upstream.StartAsync("a", instances.HandleAsync);
            instances.B = await Upstream.StartAsync("b", instances.HandleAsync);
            return instances;
        }

        public async ValueTask DisposeAsync()
        {
            await A.DisposeAsync();
            await B.DisposeAsync();
        }

        private async Task HandleAsync(HttpContext context, int _)
        {
            if (Interlocked.Increment(ref _arrivals) <= _slow)
            {
                try
                {
                    await Task.Delay(_delay, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    _slowAborted.TrySetResult();
                    return;
                }

                await context.Response.WriteAsync("slow");
                return;
            }

            await context.Response.WriteAsync("fast");
        }
    }

    private static Task<AgentHarness> StartAgentAsync(string routes, params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string?> { ["ROUTES"] = routes, ["SIDECAR_LOG_LEVEL"] = "warning" };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return AgentHarness.StartAsync(environment);
    }

    private static async Task<(HttpStatusCode Status, string Body, TimeSpan Elapsed)> CallAsync(AgentHarness agent, HttpMethod method, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, "v1/invoke/orders/x");
        if (method == HttpMethod.Post || method == HttpMethod.Put)
        {
            request.Content = new StringContent("{\"n\":1}", Encoding.UTF8, "application/json");
        }

        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        var watch = Stopwatch.StartNew();
        using var response = await agent.Client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, body, watch.Elapsed);
    }

    [Fact]
    public async Task Get_TheSlowFirstAttemptIsHedged_TheFastAnswerWins_TheSlowOneIsCancelled()
    {
        await using var instances = await Instances.StartAsync(SlowDelay);
        // EjectionFailures=1: were the cancelled attempt counted as the instance's failure, it would be ejected.
        await using var agent = await StartAgentAsync(instances.Route,
            ("Forwarding__Services__orders__HedgeAfter", "50ms"), ("Forwarding__EjectionFailures", "1"));

        var (status, body, elapsed) = await CallAsync(agent, HttpMethod.Get);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("fast", body);
        Assert.True(elapsed < TimeSpan.FromSeconds(3), $"answered after {elapsed}, the slow instance takes {SlowDelay}");
        Assert.Equal(1, instances.A.Count);
        Assert.Equal(1, instances.B.Count);
        await instances.SlowAborted.WaitAsync(TimeSpan.FromSeconds(5)); // the upstream saw the slow request cancelled

        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(1, scrape.Value("sidecar_forward_hedges_total", ("service", "orders"), ("outcome", "sent")));
        Assert.Equal(1, scrape.Value("sidecar_forward_hedges_total", ("service", "orders"), ("outcome", "won")));
        Assert.Equal(0, scrape.Value("sidecar_forward_instances_ejected", ("service", "orders")));
        Assert.Equal(0, scrape.Value("sidecar_forward_requests_in_flight", ("service", "orders")));
    }

    [Fact]
    public async Task AHedgeThatWins_UnderADeadlineShorterThanTheTryTimeOut_IsStreamedToTheEnd()
    {
        // The first attempt runs on the call's source, here the deadline's: losing the race cancels it, and the
        // winner's answer must get a fresh one to the same deadline rather than be cut off (HedgedAttempt).
        await using var instances = await Instances.StartAsync(SlowDelay);
        await using var agent = await StartAgentAsync(instances.Route,
            ("Forwarding__HedgeAfter", "50ms"), ("Forwarding__Timeout", "5s"), ("Forwarding__TryTimeout", "10s"));

        var (status, body, elapsed) = await CallAsync(agent, HttpMethod.Get);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("fast", body);
        Assert.True(elapsed < TimeSpan.FromSeconds(3), $"answered after {elapsed}");
        await instances.SlowAborted.WaitAsync(TimeSpan.FromSeconds(5));
        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(1, scrape.Value("sidecar_forward_hedges_total", ("service", "orders"), ("outcome", "won")));
    }

    [Fact]
    public async Task BothAttemptsTimedOut_EachIsItsInstancesFailure_NotARaceLost()
    {
        await using var instances = await Instances.StartAsync(SlowDelay, slowArrivals: 2);
        // A per-try time-out well past the hedge's delay: under a whole suite's load the hedge must still reach its instance first.
        await using var agent = await StartAgentAsync(instances.Route,
            ("Forwarding__HedgeAfter", "50ms"), ("Forwarding__TryTimeout", "1s"), ("Forwarding__Retries", "0"),
            ("Forwarding__EjectionFailures", "1"), ("Forwarding__MaxEjectionPercent", "100"));

        var (status, _, elapsed) = await CallAsync(agent, HttpMethod.Get);

        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.True(elapsed < TimeSpan.FromSeconds(3), $"answered after {elapsed}");
        Assert.Equal(2, instances.Arrivals);
        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(2, scrape.Value("sidecar_forward_instances_ejected", ("service", "orders")));
        Assert.Equal(0, scrape.Value("sidecar_forward_hedges_total", ("service", "orders"), ("outcome", "won")));
    }

    [Fact]
    public async Task Post_WithoutAKey_IsSentExactlyOnce_NeverHedged()
    {
        await using var instances = await Instances.StartAsync(TimeSpan.FromMilliseconds(500));
        await using var agent = await StartAgentAsync(instances.Route, ("Forwarding__HedgeAfter", "50ms"));

        var (status, body, elapsed) = await CallAsync(agent, HttpMethod.Post);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("slow", body);
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(450), $"answered after {elapsed}: not by the slow instance");
        Assert.Equal(1, instances.Arrivals);
        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(0, scrape.Value("sidecar_forward_hedges_total", ("service", "orders"), ("outcome", "sent")));
    }

    [Fact]
    public async Task Post_WithAnIdempotencyKey_IsHedged()
    {
        await using var instances = await Instances.StartAsync(SlowDelay);
        await using var agent = await StartAgentAsync(instances.Route, ("Forwarding__HedgeAfter", "50ms"));

        var (status, body, elapsed) = await CallAsync(agent, HttpMethod.Post, "k-42");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("fast", body);
        Assert.True(elapsed < TimeSpan.FromSeconds(3), $"answered after {elapsed}");
        Assert.Equal(2, instances.Arrivals);
        Assert.All(instances.A.Seen.Concat(instances.B.Seen), seen => Assert.Equal("k-42", seen.Headers["Idempotency-Key"]));
        await instances.SlowAborted.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task TheRetryBudgetSpent_NoHedge()
    {
        await using var instances = await Instances.StartAsync(TimeSpan.FromMilliseconds(500));
        await using var agent = await StartAgentAsync(instances.Route, ("Forwarding__HedgeAfter", "50ms"),
            ("Forwarding__RetryBudgetPercent", "0"), ("Forwarding__RetryBudgetMinPerSecond", "0"));

        var (status, body, _) = await CallAsync(agent, HttpMethod.Get);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("slow", body);
        Assert.Equal(1, instances.Arrivals);
        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(0, scrape.Value("sidecar_forward_hedges_total", ("service", "orders"), ("outcome", "sent")));
        Assert.Equal(1, scrape.Value("sidecar_forward_retry_budget_exhausted_total", ("service", "orders")));
    }

    [Fact]
    public async Task WithoutHedgeAfter_TheSlowAttemptIsWaitedFor()
    {
        await using var instances = await Instances.StartAsync(TimeSpan.FromMilliseconds(300));
        await using var agent = await StartAgentAsync(instances.Route);

        var (status, body, _) = await CallAsync(agent, HttpMethod.Get);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("slow", body);
        Assert.Equal(1, instances.Arrivals);
        var scrape = await Scrape.TakeAsync(agent);
        Assert.DoesNotContain(scrape.Samples, s => s.Name == "sidecar_forward_hedges_total");
    }

    [Fact]
    public async Task AHedge_IsAnEventOnTheCallsSpan()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var instances = await Instances.StartAsync(SlowDelay);
        await using var agent = await StartAgentAsync(instances.Route,
            ("Forwarding__HedgeAfter", "50ms"), ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.Endpoint));

        var (status, body, _) = await CallAsync(agent, HttpMethod.Get);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("fast", body);
        await collector.ExportedAsync(agent, c => c.Received(Encoding.UTF8.GetBytes("sidecar.hedge.won")), "the hedge's win exported");
        Assert.True(collector.Received(Encoding.UTF8.GetBytes("sidecar.hedge")), "the hedge's event is exported");
    }
}

using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Sidecar.Observability;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Observability;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>Issue 17, point 6: refusals and the rules' state in /metrics, on the status page and in traces.</summary>
public sealed class ResilienceObservabilityTests
{
    private static Task<AgentHarness> StartAsync(string routes, Microsoft.Extensions.Time.Testing.FakeTimeProvider time, params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string?> { ["ROUTES"] = routes, ["SIDECAR_LOG_LEVEL"] = "warning" };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return AgentHarness.StartAsync(environment, services => services.AddSingleton<TimeProvider>(time));
    }

    [Fact]
    public async Task Refusals_AreCounted_AndTheBreakerAndBulkhead_AreGauges()
    {
        var time = RegisteredAgent.NewClock();
        await using var orders = await Upstream.StartAsync("orders", (context, _) =>
        {
            context.Response.StatusCode = 500;
            return Task.CompletedTask;
        });
        await using var billing = await Upstream.StartAsync("billing");
        await using var agent = await StartAsync($"orders={orders.Url},billing={billing.Url}", time,
            ("Forwarding__Services__orders__CircuitBreaker", "true"), ("Forwarding__Services__orders__CircuitBreakerMinimumThroughput", "2"),
            ("Forwarding__Services__orders__Retries", "0"), ("Forwarding__Services__orders__MaxConcurrentRequests", "7"),
            ("Forwarding__Services__billing__RateLimit", "1"));

        for (var i = 0; i < 5; i++)
        {
            (await agent.Client.GetAsync("v1/invoke/orders/x")).Dispose(); // 2 sent, 3 refused: the circuit opened
            (await agent.Client.GetAsync("v1/invoke/billing/x")).Dispose(); // 1 sent, 4 refused
        }

        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(3, scrape.Value("sidecar_forward_errors_total", ("service", "orders"), ("error", "circuit-open")));
        Assert.Equal(4, scrape.Value("sidecar_forward_errors_total", ("service", "billing"), ("error", "rate-limited")));
        Assert.Equal(1, scrape.Value("sidecar_forward_circuit_state", ("service", "orders")));
        Assert.Equal(1, scrape.Value("sidecar_forward_circuit_openings_total", ("service", "orders")));
        Assert.Equal(7, scrape.Value("sidecar_forward_bulkhead_limit", ("service", "orders")));
        Assert.Equal(0, scrape.Value("sidecar_forward_bulkhead_in_flight", ("service", "orders")));
        Assert.DoesNotContain(scrape.Samples, s => s.Name.StartsWith("sidecar_forward_circuit", StringComparison.Ordinal) && s.Labels["service"] == "billing");
        Assert.Equal(2, orders.Count);

        // The status page: the breaker's state, the bulkhead's use and the refusals, in JSON and HTML.
        using var json = JsonDocument.Parse(await agent.Client.GetStringAsync(""));
        var services = json.RootElement.GetProperty("services").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        var resilience = services["orders"].GetProperty("resilience");
        Assert.Equal("open", resilience.GetProperty("circuit").GetString());
        Assert.Equal(0, resilience.GetProperty("inFlight").GetInt32());
        Assert.Equal(7, resilience.GetProperty("maxConcurrentRequests").GetInt32());
        Assert.Equal(3, resilience.GetProperty("rejected").GetProperty("circuit-open").GetInt64());
        Assert.Equal(4, services["billing"].GetProperty("resilience").GetProperty("rejected").GetProperty("rate-limited").GetInt64());

        using var page = new HttpRequestMessage(HttpMethod.Get, "");
        page.Headers.TryAddWithoutValidation("Accept", "text/html");
        using var html = await agent.Client.SendAsync(page);
        var text = await html.Content.ReadAsStringAsync();
        Assert.Contains("data-circuit=\"open\"", text, StringComparison.Ordinal);
        Assert.Contains("0 / 7 in flight", text, StringComparison.Ordinal);
        Assert.Contains("circuit: orders: circuit opened", Events(json.RootElement), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARefusal_IsASpanWithAnEvent_WhenTracingIsOn()
    {
        var time = RegisteredAgent.NewClock();
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync($"orders={orders.Url}", time,
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.Endpoint), ("Forwarding__RateLimit", "1"));

        (await agent.Client.GetAsync("v1/invoke/orders/x")).Dispose();
        using var refused = await agent.Client.GetAsync("v1/invoke/orders/x");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        await collector.ExportedAsync(agent, c => c.Received(Encoding.UTF8.GetBytes("sidecar.rejected")), "the refusal's event exported");

        Assert.True(collector.Received(Encoding.UTF8.GetBytes("rate-limited")), "naming the rule");
        Assert.Equal(1, orders.Count);
    }

    private static string Events(JsonElement status) => string.Join("\n", status.GetProperty("events").EnumerateArray()
        .Select(e => $"{e.GetProperty("kind").GetString()}: {e.GetProperty("message").GetString()}"));
}

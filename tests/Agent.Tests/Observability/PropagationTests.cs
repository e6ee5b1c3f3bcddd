using System.Net;
using Microsoft.AspNetCore.Http;
using Sidecar.Observability;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Observability;

/// <summary>OTEL_PROPAGATORS (W3C and B3, in and out), a span per attempt under the call's span, OTEL_TRACES_SAMPLER.</summary>
public sealed class PropagationTests
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    internal const string CallerSpan = "00f067aa0ba902b7";
    private const string ShortTraceId = "a3ce929d0e0e4736"; // B3 allows 64-bit trace ids

    internal static Task<AgentHarness> StartAsync(Upstream orders, FakeOtlpCollector? collector, params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string?> { ["ROUTES"] = $"orders={orders.Url}", ["APP_NAME"] = "billing", ["APP_HEALTH_URL"] = "" };
        if (collector is not null)
        {
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint;
        }

        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return AgentHarness.StartAsync(environment);
    }

    // A trace of the test's own: the agents of tests running beside it in this process export their spans too (the
    // agent's ActivitySource is one per process, and each agent's tracer listens to it by name), so a test reads the
    // spans of its own trace only (a clean clone's full run once found two other tests' call spans in this class's collector).
    private static string NewTraceId() => System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();

    internal static Task<HttpStatusCode> CallAsync(AgentHarness agent) => CallAsync(agent, []);

    internal static Task<HttpStatusCode> CallAsync(AgentHarness agent, (string Name, string Value) header, params (string Name, string Value)[] more) =>
        CallAsync(agent, [header, .. more]);

    internal static async Task<HttpStatusCode> CallAsync(AgentHarness agent, (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/invoke/orders/api/items?secret=s3cr3t");
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await agent.Client.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task B3Multi_IsReadAndWritten_WithTracingOff()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync(orders, null, ("OTEL_PROPAGATORS", "b3multi"));

        await CallAsync(agent, ("X-B3-TraceId", TraceId), ("X-B3-SpanId", CallerSpan), ("X-B3-Sampled", "1"));

        var seen = orders.Last.Headers;
        Assert.Equal(TraceId, seen["X-B3-TraceId"]);
        Assert.Equal(CallerSpan, seen["X-B3-SpanId"]);
        Assert.Equal("1", seen["X-B3-Sampled"]);
        Assert.False(seen.ContainsKey("traceparent"), "tracecontext is not configured");
    }

    [Fact]
    public async Task AB3SingleHeader_WithA64BitTraceId_BecomesW3CAndB3_WithTracingOff()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync(orders, null, ("OTEL_PROPAGATORS", "tracecontext,b3"));

        await CallAsync(agent, ("b3", $"{ShortTraceId}-{CallerSpan}-1"));

        var seen = orders.Last.Headers;
        Assert.Equal($"00-0000000000000000{ShortTraceId}-{CallerSpan}-01", seen["traceparent"]);
        Assert.Equal($"0000000000000000{ShortTraceId}-{CallerSpan}-1", seen["b3"]); // one value: the caller's is replaced
    }

    [Fact]
    public async Task WithoutACallerTrace_B3LeavesTheSamplingDecisionToTheInstance()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync(orders, null, ("OTEL_PROPAGATORS", "b3,b3multi"));

        await CallAsync(agent);

        var seen = orders.Last.Headers;
        Assert.Matches("^[0-9a-f]{32}-[0-9a-f]{16}$", seen["b3"]);
        Assert.Equal(seen["b3"], seen["X-B3-TraceId"] + "-" + seen["X-B3-SpanId"]);
        Assert.False(seen.ContainsKey("X-B3-Sampled"));
    }

    [Fact]
    public async Task TheDefault_IsW3COnly_AndB3HeadersPassThroughUntouched()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync(orders, null);

        await CallAsync(agent, ("traceparent", $"00-{TraceId}-{CallerSpan}-01"), ("b3", "whatever-the-caller-sent"));

        Assert.Equal($"00-{TraceId}-{CallerSpan}-01", orders.Last.Headers["traceparent"]);
        Assert.Equal("whatever-the-caller-sent", orders.Last.Headers["b3"]);
    }

    [Fact]
    public async Task WithTracingOn_AB3Caller_GetsTheCallSpanAndAnAttemptSpan_AndTheInstanceSeesTheAttempt()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync(orders, collector, ("OTEL_PROPAGATORS", "b3multi"));

        var traceId = NewTraceId();
        Assert.Equal(HttpStatusCode.OK, await CallAsync(agent, ("X-B3-TraceId", traceId), ("X-B3-SpanId", CallerSpan), ("X-B3-Sampled", "1")));

        var spans = await collector.SpansAsync(agent, traceId, 2);
        var call = Assert.Single(spans, s => s.Name == "GET orders");
        var attempt = Assert.Single(spans, s => s.Name == "GET");
        Assert.Equal(traceId, call.TraceId);
        Assert.Equal(CallerSpan, call.ParentSpanId);
        Assert.Equal(1, call.Kind); // internal
        Assert.Equal(call.SpanId, attempt.ParentSpanId);
        Assert.Equal(3, attempt.Kind); // client
        var seen = orders.Last.Headers;
        Assert.Equal(traceId, seen["X-B3-TraceId"]);
        Assert.Equal(attempt.SpanId, seen["X-B3-SpanId"]);
        Assert.Equal("1", seen["X-B3-Sampled"]);
    }

    [Fact]
    public async Task ARetriedCall_HasASpanPerAttempt_WithTheHttpSemanticConventionsAttributes()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var orders = await Upstream.StartAsync("orders", async (context, n) =>
        {
            context.Response.StatusCode = n == 1 ? 503 : 200;
            await context.Response.WriteAsync("orders");
        });
        await using var agent = await StartAsync(orders, collector);

        var traceId = NewTraceId();
        Assert.Equal(HttpStatusCode.OK, await CallAsync(agent, ("traceparent", $"00-{traceId}-{CallerSpan}-01")));

        var spans = await collector.SpansAsync(agent, traceId, 3);
        var call = Assert.Single(spans, s => s.Name == "GET orders");
        var attempts = spans.Where(s => s.Name == "GET").ToList();
        Assert.Equal(2, attempts.Count);
        Assert.All(attempts, a =>
        {
            Assert.Equal(call.SpanId, a.ParentSpanId);
            Assert.Equal(traceId, a.TraceId);
            Assert.Equal("GET", a.Attributes["http.request.method"]);
            Assert.Equal("127.0.0.1", a.Attributes["server.address"]);
            Assert.Equal((long)orders.Port, a.Attributes["server.port"]);
            Assert.Equal($"{orders.Url}/api/items", a.Attributes["url.full"]);
            Assert.Equal("1.1", a.Attributes["network.protocol.version"]);
        });
        var first = Assert.Single(attempts, a => (long)a.Attributes["http.response.status_code"] == 503);
        var second = Assert.Single(attempts, a => (long)a.Attributes["http.response.status_code"] == 200);
        Assert.Equal("503", first.Attributes["error.type"]);
        Assert.Equal(2, first.StatusCode); // error
        Assert.False(first.Attributes.ContainsKey("http.request.resend_count"));
        Assert.Equal(1L, second.Attributes["http.request.resend_count"]);
        Assert.False(second.Attributes.ContainsKey("error.type"));
        // Each attempt was the parent the instance saw.
        Assert.Equal(attempts.Select(a => a.SpanId).Order(), orders.Seen.Select(r => r.Headers["traceparent"].Split('-')[2]).Order());
        Assert.False(collector.Received(System.Text.Encoding.UTF8.GetBytes("s3cr3t")), "never the query");
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("OTEL_PROPAGATORS", "jaeger")]
    [InlineData("OTEL_PROPAGATORS", "tracecontext,xray")]
    [InlineData("OTEL_TRACES_SAMPLER", "sometimes")]
    [InlineData("OTEL_TRACES_SAMPLER_ARG", "2")]
    [InlineData("OTEL_TRACES_SAMPLER_ARG", "half")]
    public void ABadPropagatorOrSamplerSetting_StopsTheAgent_NamingIt(string variable, string value)
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .Add(new Sidecar.Configuration.AgentVariablesConfigurationSource(new System.Collections.Hashtable { [variable] = value })).Build();

        var error = Assert.Throws<Sidecar.Configuration.InvalidConfigurationException>(() => Sidecar.Hosting.AgentOptions.Load(configuration));

        Assert.StartsWith(variable + " ", Assert.Single(error.Errors), StringComparison.Ordinal);
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("a3ce929d0e0e4736-00f067aa0ba902b7-1", "00-0000000000000000a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    [InlineData("4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")]
    [InlineData("4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-d", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    [InlineData("4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-05e3ac9a4f6e3b90", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    [InlineData("4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    [InlineData("0", null)]
    [InlineData("xyz-00f067aa0ba902b7-1", null)]
    [InlineData("00000000000000000000000000000000-00f067aa0ba902b7-1", null)]
    public void TheB3SingleHeader_IsReadAsTheSpecificationSays(string b3, string? traceParent)
    {
        Assert.Equal(traceParent, TracePropagation.FromB3Single(b3));
    }
}

/// <summary>
/// The sampler's decisions, alone: an agent's tracer listens to the agent's ActivitySource by name, one per process, so
/// while another test's agent records, this agent's calls would be recorded (and exported) whatever its own sampler
/// says. The collection runs with no other test beside it (a run of the tracing tests together failed both
/// "not recorded" cases).
/// </summary>
[Collection(nameof(SamplerTests))]
public sealed class SamplerTests
{
    [Theory]
    [InlineData("always_off", null, false)]
    [InlineData("traceidratio", "0", false)]
    [InlineData("traceidratio", "1", true)]
    [InlineData("parentbased_always_off", null, true)] // the caller sampled: its decision is kept
    [InlineData("always_on", null, true)]
    public async Task TheSampler_DecidesWhichCallsAreRecorded(string sampler, string? arg, bool recorded)
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var orders = await Upstream.StartAsync("orders");
        var settings = new List<(string, string)> { ("OTEL_TRACES_SAMPLER", sampler) };
        if (arg is not null)
        {
            settings.Add(("OTEL_TRACES_SAMPLER_ARG", arg));
        }

        await using var agent = await PropagationTests.StartAsync(orders, collector, [.. settings]);

        // A trace of its own: the SDK's listeners are process-wide, so another test's recording agent must not see this one's trace.
        // (Nor may one run meanwhile: its listener's "record" would make this agent's calls recorded too, and exported by it.)
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        await PropagationTests.CallAsync(agent, ("traceparent", $"00-{traceId}-{PropagationTests.CallerSpan}-01"));
        await PropagationTests.CallAsync(agent); // a root: only the parent-based sampler's root rule applies
        if (recorded)
        {
            await collector.SpansAsync(agent, traceId, 1);
        }
        else
        {
            Assert.True(agent.Get<AgentTracing>().Flush());
            Assert.DoesNotContain(collector.Spans, s => s.TraceId == traceId);
        }

        Assert.All(orders.Seen.Where(r => r.Headers["traceparent"].Contains(traceId, StringComparison.Ordinal)), r => Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", r.Headers["traceparent"]));
        Assert.Contains(orders.Seen, r => r.Headers["traceparent"].Split('-')[1] == traceId); // the trace goes on, recorded or not
    }
}

[CollectionDefinition(nameof(SamplerTests), DisableParallelization = true)]
public sealed class SamplerTestsRunAlone;

using System.Net;
using Microsoft.Extensions.Configuration;
using System.Text;
using Sidecar.Observability;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Observability;

/// <summary>traceparent passed on and created; spans exported with OTLP only when an endpoint is set.</summary>
public sealed class TracingTests
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string CallerSpan = "00f067aa0ba902b7";

    private static Task<AgentHarness> StartAsync(Upstream orders, FakeOtlpCollector? collector, params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string?> { ["ROUTES"] = $"orders={orders.Url}", ["APP_NAME"] = "billing" };
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

    [Fact]
    public async Task WithoutAnEndpoint_NoTracerRuns_AndTheCallersTraceParentIsPassedOnUnchanged()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync(orders, null);
        var incoming = $"00-{TraceId}-{CallerSpan}-01";

        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/invoke/orders/x");
        request.Headers.Add("traceparent", incoming);
        await agent.Client.SendAsync(request);

        Assert.False(agent.Get<AgentTracing>().Enabled);
        Assert.Equal(incoming, orders.Last.Headers["traceparent"]);
    }

    [Fact]
    public async Task WithAnEndpoint_TheInstanceSeesTheAgentsSpanAsParent_AndTheSpanReachesTheCollector()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync(orders, collector);

        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/invoke/orders/api/items?secret=s3cr3t");
        request.Headers.Add("traceparent", $"00-{TraceId}-{CallerSpan}-01");
        request.Headers.Add("tracestate", "congo=t61rcWkgMzE");
        Assert.Equal(HttpStatusCode.OK, (await agent.Client.SendAsync(request)).StatusCode);

        var seen = orders.Last.Headers["traceparent"].Split('-');
        Assert.Equal(TraceId, seen[1]);
        Assert.NotEqual(CallerSpan, seen[2]);
        Assert.Equal("01", seen[3]);
        Assert.Equal("congo=t61rcWkgMzE", orders.Last.Headers["tracestate"]);
        Assert.True(agent.Get<AgentTracing>().Flush());

        var export = Assert.Single(collector.Exports, e => e.Path == "/v1/traces");
        Assert.Equal("application/x-protobuf", export.ContentType);
        Assert.True(collector.Received(Convert.FromHexString(TraceId)), "the trace id is exported");
        Assert.True(collector.Received(Convert.FromHexString(seen[2])), "the span the instance saw as its parent is exported");
        Assert.True(collector.Received(Convert.FromHexString(CallerSpan)), "with the caller's span as its parent");
        Assert.True(collector.Received(Encoding.UTF8.GetBytes("billing")), "service.name defaults to APP_NAME");
        Assert.True(collector.Received(Encoding.UTF8.GetBytes("/api/items")), "the path is a span attribute");
        Assert.False(collector.Received(Encoding.UTF8.GetBytes("s3cr3t")), "never the query");
    }

    [Fact]
    public async Task WithAnEndpoint_AndNoTraceParent_ANewSampledTraceStartsAtTheAgent()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync(orders, collector, ("OTEL_SERVICE_NAME", "billing-sidecar"));

        await agent.Client.GetAsync("v1/invoke/orders/x");
        agent.Get<AgentTracing>().Flush();

        var seen = orders.Last.Headers["traceparent"];
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-01$", seen);
        Assert.True(collector.Received(Convert.FromHexString(seen.Split('-')[1])));
        Assert.True(collector.Received(Encoding.UTF8.GetBytes("billing-sidecar")), "OTEL_SERVICE_NAME wins over APP_NAME");
    }

    [Fact]
    public async Task WithTracingOff_ByOtelSdkDisabled_NothingIsExported()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var orders = await Upstream.StartAsync("orders");
        await using (var agent = await StartAsync(orders, collector, ("OTEL_SDK_DISABLED", "true")))
        {
            await agent.Client.GetAsync("v1/invoke/orders/x");
            Assert.False(agent.Get<AgentTracing>().Enabled);
        }

        Assert.Empty(collector.Exports);
    }

    [Fact]
    public async Task SpansAreFlushed_WhenTheAgentStops()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var orders = await Upstream.StartAsync("orders");
        await using (var agent = await StartAsync(orders, collector))
        {
            await agent.Client.GetAsync("v1/invoke/orders/x");
        }

        var parent = orders.Last.Headers["traceparent"].Split('-')[2];
        Assert.True(collector.Received(Convert.FromHexString(parent)));
    }

    [Theory]
    [InlineData("http://collector:4318", null, null, "http://collector:4318/v1/traces")]
    [InlineData("http://collector:4318/base/", null, null, "http://collector:4318/base/v1/traces")]
    [InlineData("http://collector:4317", null, "grpc", "http://collector:4317/")]
    [InlineData("http://collector:4318", "http://other:9999/custom", null, "http://other:9999/custom")]
    public void TheTracesUrl_FollowsTheOtlpExporterSpecification(string endpoint, string? tracesEndpoint, string? protocol, string expected)
    {
        var options = Sidecar.Configuration.AgentOptions.Load(new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Observability:Otlp:Endpoint"] = endpoint,
                ["Observability:Otlp:TracesEndpoint"] = tracesEndpoint,
                ["Observability:Otlp:Protocol"] = protocol,
            }).Build()).Observability;

        Assert.True(options.TracingEnabled);
        Assert.Equal(expected, options.TracesUrl!.AbsoluteUri);
        Assert.Equal("sidecar-agent", options.ServiceName);
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]
    [InlineData("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")]
    [InlineData("OTEL_SDK_DISABLED", "maybe")]
    public void ABadOtelVariable_StopsTheAgent_NamingIt(string variable, string value)
    {
        var environment = new System.Collections.Hashtable { [variable] = value };
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .Add(new Sidecar.Configuration.AgentVariablesConfigurationSource(environment)).Build();

        var error = Assert.Throws<Sidecar.Configuration.InvalidConfigurationException>(() => Sidecar.Configuration.AgentOptions.Load(configuration));

        Assert.StartsWith(variable + " ", Assert.Single(error.Errors), StringComparison.Ordinal);
    }
}

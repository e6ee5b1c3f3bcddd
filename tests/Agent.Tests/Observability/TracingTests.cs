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
        // The attempt's span (the instance's parent) and the call's (the caller's span its parent) may come in two exports.
        await collector.ExportedAsync(agent, c => c.Received(Convert.FromHexString(seen[2])) && c.Received(Convert.FromHexString(CallerSpan)),
            "the span the instance saw as its parent, and the call's with the caller's span as its parent, exported");

        Assert.All(collector.Exports, e => Assert.Equal(("/v1/traces", "application/x-protobuf"), (e.Path, e.ContentType)));
        Assert.True(collector.Received(Convert.FromHexString(TraceId)), "the trace id is exported");
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

        var seen = orders.Last.Headers["traceparent"];
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-01$", seen);
        await collector.ExportedAsync(agent, c => c.Received(Convert.FromHexString(seen.Split('-')[1])), "the new trace exported");
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

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("http://collector:4318", null, null, "http://collector:4318/v1/traces")]
    [InlineData("http://collector:4318/base/", null, null, "http://collector:4318/base/v1/traces")]
    [InlineData("http://collector:4317", null, "grpc", "http://collector:4317/")]
    [InlineData("http://collector:4318", "http://other:9999/custom", null, "http://other:9999/custom")]
    public void TheTracesUrl_FollowsTheOtlpExporterSpecification(string endpoint, string? tracesEndpoint, string? protocol, string expected)
    {
        var options = Sidecar.Hosting.AgentOptions.Load(new Microsoft.Extensions.Configuration.ConfigurationBuilder()
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

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]
    [InlineData("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")]
    [InlineData("OTEL_SDK_DISABLED", "maybe")]
    [InlineData("OTEL_EXPORTER_OTLP_HEADERS", "garbage")]
    [InlineData("OTEL_EXPORTER_OTLP_HEADERS", "a=b,c")]
    [InlineData("OTEL_EXPORTER_OTLP_HEADERS", "x api key=1")]
    [InlineData("OTEL_EXPORTER_OTLP_HEADERS", "a=b\nc")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "garbage")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318")]
    [InlineData("OTEL_TRACES_EXPORTER", "zipkin")]
    public void ABadOtelVariable_StopsTheAgent_NamingIt(string variable, string value)
    {
        var environment = new System.Collections.Hashtable { [variable] = value };
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .Add(new Sidecar.Configuration.AgentVariablesConfigurationSource(environment)).Build();

        var error = Assert.Throws<Sidecar.Configuration.InvalidConfigurationException>(() => Sidecar.Hosting.AgentOptions.Load(configuration));

        Assert.StartsWith(variable + " ", Assert.Single(error.Errors), StringComparison.Ordinal);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void ABadHeadersEntry_IsNamedByPosition_NeverByItsText()
    {
        var error = Assert.Throws<Sidecar.Configuration.InvalidConfigurationException>(() => Load(("OTEL_EXPORTER_OTLP_HEADERS", "tenant=a,api-key: s3cr3t-hdr")));

        var line = Assert.Single(error.Errors);
        Assert.StartsWith("OTEL_EXPORTER_OTLP_HEADERS (Observability:Otlp:Headers): entry 2 of 2 has no '='", line, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", line, StringComparison.Ordinal);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void TheSignalSpecificVariables_WinOverTheGenericOnes()
    {
        var both = Load(
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"), ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1"), ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", " b = 2 ,, c=3=4,"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"), ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"));
        var generic = Load(
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"));

        Assert.Equal(OtlpWireProtocol.Grpc, both.Protocol);
        Assert.Equal("http://collector:4318/", both.TracesUrl!.AbsoluteUri); // grpc: the endpoint itself
        Assert.Equal("b=2,c=3=4", both.Headers); // replaces the generic headers (no merge), empty entries dropped
        Assert.Equal(TimeSpan.FromMilliseconds(2500), both.Timeout);
        Assert.Equal(OtlpWireProtocol.Grpc, generic.Protocol);
        Assert.Equal("a=1", generic.Headers);
        Assert.Equal(TimeSpan.FromSeconds(1), generic.Timeout);
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData(null, true)]
    [InlineData("otlp", true)]
    [InlineData("OTLP", true)]
    [InlineData("none", false)]
    public void OtelTracesExporterNone_TurnsTracingOff(string? exporter, bool enabled)
    {
        var options = exporter is null
            ? Load(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"))
            : Load(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), ("OTEL_TRACES_EXPORTER", exporter));

        Assert.Equal(enabled, options.TracingEnabled);
    }

    [Fact]
    public async Task WithOtelTracesExporterNone_NothingIsExported_AndTheTraceParentIsPassedOn()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var orders = await Upstream.StartAsync("orders");
        var incoming = $"00-{TraceId}-{CallerSpan}-01";
        await using (var agent = await StartAsync(orders, collector, ("OTEL_TRACES_EXPORTER", "none")))
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "v1/invoke/orders/x");
            request.Headers.Add("traceparent", incoming);
            await agent.Client.SendAsync(request);
            Assert.False(agent.Get<AgentTracing>().Enabled);
        }

        Assert.Empty(collector.Exports);
        Assert.Equal(incoming, orders.Last.Headers["traceparent"]);
    }

    [Fact]
    public async Task TheTracesHeaders_ReachTheCollector()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync(orders, collector,
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-generic=1"), ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=k-123,x-tenant=t1"));

        await agent.Client.GetAsync("v1/invoke/orders/x");
        await collector.ExportedAsync(agent, c => c.Exports.Any(e => e.Path == "/v1/traces"), "an export");

        Assert.All(collector.Exports, export =>
        {
            Assert.Equal("/v1/traces", export.Path);
            Assert.Equal("k-123", export.Headers["x-api-key"]);
            Assert.Equal("t1", export.Headers["x-tenant"]);
            Assert.False(export.Headers.ContainsKey("x-generic"));
        });
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_HEADERS", "garbage", "agent: invalid configuration: OTEL_EXPORTER_OTLP_HEADERS (Observability:Otlp:Headers): entry 1 of 1 has no '='")]
    [InlineData("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem", "agent: invalid configuration: OTEL_EXPORTER_OTLP_* (tracing): the OpenTelemetry exporter refused its settings:")]
    public async Task AnOtelValueTheExporterWouldThrowOn_StopsTheRealProcess_WithOneLineAndExitCode2(string variable, string value, string expected)
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4318",
            [variable] = value,
            ["APP_HEALTH_URL"] = "",
            ["SIDECAR_PORT"] = "0",
        });

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var line = Assert.Single(agent.Stderr.TrimEnd().Split('\n'));
        Assert.StartsWith(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", agent.Stdout + agent.Stderr, StringComparison.Ordinal);
    }

    private static ObservabilityOptions Load(params (string Name, string Value)[] variables)
    {
        var environment = new System.Collections.Hashtable();
        foreach (var (name, value) in variables)
        {
            environment[name] = value;
        }

        return Sidecar.Hosting.AgentOptions.Load(new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .Add(new Sidecar.Configuration.AgentVariablesConfigurationSource(environment)).Build()).Observability;
    }
}

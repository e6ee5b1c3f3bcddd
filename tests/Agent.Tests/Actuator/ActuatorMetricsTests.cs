using Sidecar.Actuator;

namespace Sidecar.Tests.Actuator;

/// <summary>The agent's Prometheus text read back, and shown in Spring's <c>metrics</c> shape (docs/actuator.md#metrics).</summary>
[Trait("Category", "Unit")]
public sealed class ActuatorMetricsTests
{
    private const string Text = """
        # HELP sidecar_forward_requests_total Calls forwarded, by service and outcome.
        # TYPE sidecar_forward_requests_total counter
        sidecar_forward_requests_total{service="orders",outcome="success"} 7
        sidecar_forward_requests_total{service="orders",outcome="error"} 2
        sidecar_forward_requests_total{service="users",outcome="success"} 5
        # HELP sidecar_forward_duration_seconds Time from receiving a request to the end of its answer.
        # TYPE sidecar_forward_duration_seconds histogram
        sidecar_forward_duration_seconds_sum{service="orders"} 0.75
        sidecar_forward_duration_seconds_count{service="orders"} 9
        sidecar_forward_duration_seconds_bucket{service="orders",le="0.1"} 8
        sidecar_forward_duration_seconds_bucket{service="orders",le="+Inf"} 9
        # HELP sidecar_process_resident_memory_bytes Resident memory, with a \\ and a\nsecond line.
        # TYPE sidecar_process_resident_memory_bytes gauge
        sidecar_process_resident_memory_bytes 31457280
        # TYPE sidecar_build_info gauge
        sidecar_build_info{version="1.0.0",commit="a\"b"} 1
        no_type_line 3 1700000000000
        garbage {
        """;

    [Fact]
    public void Parse_ReadsFamiliesSamplesLabelsAndHelp()
    {
        var families = PrometheusText.Parse(Text.ReplaceLineEndings("\n"));

        Assert.Equal(["sidecar_forward_requests_total", "sidecar_forward_duration_seconds", "sidecar_process_resident_memory_bytes", "sidecar_build_info", "no_type_line"], families.Select(f => f.Name));
        Assert.Equal(["counter", "histogram", "gauge", "gauge", "untyped"], families.Select(f => f.Type));
        Assert.Equal(4, families[1].Samples.Count);
        Assert.Equal("+Inf", families[1].Samples[^1].Labels.Single(l => l.Key == "le").Value);
        Assert.Equal(9, families[1].Samples[^1].Value);
        Assert.Equal("Resident memory, with a \\ and a\nsecond line.", families[2].Help);
        Assert.Equal("a\"b", families[3].Samples[0].Labels.Single(l => l.Key == "commit").Value);
        Assert.Equal(3, families[4].Samples[0].Value);
    }

    [Theory]
    [InlineData("sidecar_forward_requests_total", "counter", "sidecar.forward.requests", null)]
    [InlineData("sidecar_forward_duration_seconds", "histogram", "sidecar.forward.duration", "seconds")]
    [InlineData("sidecar_process_cpu_seconds_total", "counter", "sidecar.process.cpu", "seconds")]
    [InlineData("sidecar_process_resident_memory_bytes", "gauge", "sidecar.process.resident.memory", "bytes")]
    [InlineData("sidecar_config_keys", "gauge", "sidecar.config.keys", null)]
    [InlineData("odd_total", "gauge", "odd.total", null)] // _total is a counter's suffix only
    public void SpringName_UndoesMicrometersPrometheusNaming(string prometheus, string type, string name, string? unit) =>
        Assert.Equal((name, unit), ActuatorMetrics.SpringName(new PrometheusFamily(prometheus, type, "", [])));

    [Fact]
    public void Names_AreSortedAndDistinct() =>
        Assert.Equal(
            ["no.type.line", "sidecar.build.info", "sidecar.forward.duration", "sidecar.forward.requests", "sidecar.process.resident.memory"],
            ActuatorMetrics.Names(PrometheusText.Parse(Text)));

    public static TheoryData<string, string[], string[], double[], string> Metrics => new()
    {
        // name, tag filters, statistics, values, available tags (tag=values;...)
        { "sidecar.forward.requests", [], ["COUNT"], [14], "outcome=error,success;service=orders,users" },
        { "sidecar.forward.requests", ["service:orders"], ["COUNT"], [9], "outcome=error,success" },
        { "sidecar.forward.requests", ["service:orders", "outcome:error"], ["COUNT"], [2], "" },
        { "sidecar.forward.duration", [], ["COUNT", "TOTAL_TIME"], [9, 0.75], "service=orders" },
        { "sidecar.process.resident.memory", [], ["VALUE"], [31457280], "" },
    };

    [Theory]
    [MemberData(nameof(Metrics))]
    public void Metric_SumsTheMatchingSeriesPerStatistic(string name, string[] filters, string[] statistics, double[] values, string tags)
    {
        var (filter, bad) = ActuatorMetrics.ParseTags(filters);
        Assert.Null(bad);

        var metric = ActuatorMetrics.Metric(PrometheusText.Parse(Text), name, filter!);

        Assert.NotNull(metric);
        Assert.Equal(name, metric.Name);
        Assert.Equal(statistics, metric.Measurements.Select(m => m.Statistic));
        Assert.Equal(values, metric.Measurements.Select(m => m.Value));
        Assert.Equal(tags, string.Join(';', metric.AvailableTags.Select(t => t.Tag + "=" + string.Join(',', t.Values))));
    }

    [Fact]
    public void Metric_UnknownOrFilteredToNothing_IsNull_AndABadTagIsNamed()
    {
        var families = PrometheusText.Parse(Text);

        Assert.Null(ActuatorMetrics.Metric(families, "no.such.metric", []));
        Assert.Null(ActuatorMetrics.Metric(families, "sidecar.forward.requests", [new("service", "payments")]));
        Assert.Equal("service", ActuatorMetrics.ParseTags(["outcome:error", "service"]).Bad);
        Assert.Equal(":x", ActuatorMetrics.ParseTags([":x"]).Bad);
    }

    [Fact]
    public void MetricJson_IsSpringBootsShape()
    {
        var metric = ActuatorMetrics.Metric(PrometheusText.Parse(Text), "sidecar.forward.duration", [])!;

        Assert.Equal(
            """{"name":"sidecar.forward.duration","description":"Time from receiving a request to the end of its answer.","baseUnit":"seconds","measurements":[{"statistic":"COUNT","value":9},{"statistic":"TOTAL_TIME","value":0.75}],"availableTags":[{"tag":"service","values":["orders"]}]}""",
            System.Text.Encoding.UTF8.GetString(ActuatorJson.Metric(metric)));
    }
}

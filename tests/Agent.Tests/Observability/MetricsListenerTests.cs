using System.Globalization;
using System.Net;
using Sidecar.Observability;
using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Observability;

/// <summary>SIDECAR_METRICS_PORT: a listener for Prometheus that serves /metrics and nothing else; the process and build families.</summary>
public sealed class MetricsListenerTests
{
    private static Task<AgentHarness> StartAsync(string routes) => AgentHarness.StartAsync(new Dictionary<string, string?>
    {
        ["ROUTES"] = routes,
        ["APP_HEALTH_URL"] = "",
        ["SIDECAR_METRICS_PORT"] = "9100",
        ["SIDECAR_PUBLIC_HEALTH_PORT"] = "9101",
    });

    [Fact]
    public async Task TheMetricsListener_ServesMetrics_WithTheProcessAndBuildFamilies()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync($"orders={orders.Url}");
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = agent.MetricsUri };

        using var response = await client.GetAsync("metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var scrape = Scrape.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("counter", scrape.Types["process_cpu_seconds_total"]);
        Assert.InRange(scrape.Value("process_resident_memory_bytes"), 1_000_000, 4_000_000_000);
        Assert.InRange(scrape.Value("process_open_fds"), 3, 100_000);
        Assert.True(scrape.Value("process_max_fds") >= scrape.Value("process_open_fds"));
        var started = DateTimeOffset.FromUnixTimeMilliseconds((long)(scrape.Value("process_start_time_seconds") * 1000));
        Assert.InRange(started, DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddMinutes(1));
        var build = Assert.Single(scrape.Samples, s => s.Name == "sidecar_build_info");
        Assert.Equal(1, build.Value);
        Assert.Equal(Sidecar.Platform.AgentIndexApi.Version, build.Labels["version"]);
        Assert.Equal(Sidecar.Platform.AgentIndexApi.Commit, build.Labels["commit"]);
    }

    [Fact]
    public async Task TheGarbageCollectorFamilies_CountWhatForwardingAllocates()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync($"orders={orders.Url}");
        using var metrics = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = agent.MetricsUri };

        var before = Scrape.Parse(await metrics.GetStringAsync("metrics"));
        for (var i = 0; i < 50; i++)
        {
            using var response = await agent.Client.GetAsync("v1/invoke/orders/x");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var after = Scrape.Parse(await metrics.GetStringAsync("metrics"));

        Assert.Equal("counter", after.Types["dotnet_gc_heap_total_allocated_bytes_total"]);
        Assert.True(before.Value("dotnet_gc_heap_total_allocated_bytes_total") > 0);

        // 50 forwarded calls allocate kilobytes each (docs/performance.md): the counter follows the process's own figure.
        Assert.True(after.Value("dotnet_gc_heap_total_allocated_bytes_total") - before.Value("dotnet_gc_heap_total_allocated_bytes_total") > 50 * 1_000);
        Assert.InRange(after.Value("dotnet_gc_heap_total_allocated_bytes_total"), 1, GC.GetTotalAllocatedBytes());
        Assert.Equal(["gen0", "gen1", "gen2"], after.Samples.Where(s => s.Name == "dotnet_gc_collections_total").Select(s => s.Labels["gc_heap_generation"]).Order());

        // A collection of an older generation is not counted again under the younger ones.
        GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        var lower = GC.CollectionCount(0);
        var collected = Scrape.Parse(await metrics.GetStringAsync("metrics"));
        var upper = GC.CollectionCount(0); // other tests in this process collect too
        double Generation(Scrape scrape, string generation) =>
            scrape.Samples.Single(s => s.Name == "dotnet_gc_collections_total" && s.Labels["gc_heap_generation"] == generation).Value;
        Assert.True(Generation(collected, "gen2") >= Generation(after, "gen2") + 1);
        Assert.InRange(Generation(collected, "gen0") + Generation(collected, "gen1") + Generation(collected, "gen2"), lower, upper);
        Assert.True(collected.Value("dotnet_gc_pause_time_seconds_total") > 0);
    }

    [Theory]
    [InlineData("GET /v1/config HTTP/1.1", 404)]
    [InlineData("GET /v1/invoke/orders/x HTTP/1.1", 404)]
    [InlineData("GET http://orders/x HTTP/1.1", 404)]
    [InlineData("GET / HTTP/1.1", 404)]
    [InlineData("GET /v1/health HTTP/1.1", 404)]
    [InlineData("GET /v1/settings HTTP/1.1", 404)]
    [InlineData("PUT /v1/registration/status HTTP/1.1", 404)]
    [InlineData("POST /metrics HTTP/1.1", 405)]
    [InlineData("HEAD /metrics HTTP/1.1", 200)]
    public async Task TheMetricsListener_ServesNothingElse_AndNeverForwards(string requestLine, int status)
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync($"orders={orders.Url}");
        var port = agent.MetricsUri!.Port;

        var answer = await RawHttp.SendAsync(port, $"{requestLine}\r\nHost: orders\r\nContent-Length: 0");

        Assert.Equal(status, answer.Status);
        Assert.Equal(0, orders.Count);
    }

    [Fact]
    public async Task AHostNamingAService_OnTheMetricsListener_IsNotForwarded()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync($"orders={orders.Url}");

        var answer = await RawHttp.SendAsync(agent.MetricsUri!.Port, "GET /x HTTP/1.1\r\nHost: orders");

        Assert.Equal(404, answer.Status);
        Assert.Equal(0, orders.Count);
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("SIDECAR_PORT", "9100", "SIDECAR_METRICS_PORT (Sidecar:MetricsPort): '9100' is already the API port (SIDECAR_PORT)")]
    [InlineData("SIDECAR_PUBLIC_HEALTH_PORT", "9100", "SIDECAR_METRICS_PORT (Sidecar:MetricsPort): '9100' is already the public health port (SIDECAR_PUBLIC_HEALTH_PORT)")]
    [InlineData("APP_PORT", "9100", "APP_PORT (App:Port): '9100' is the agent's metrics port (SIDECAR_METRICS_PORT): the agent would probe itself")]
    public void AMetricsPortTakenByAnotherListener_IsAConfigurationError(string key, string value, string expected)
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .Add(new Sidecar.Configuration.AgentVariablesConfigurationSource(new System.Collections.Hashtable { ["SIDECAR_METRICS_PORT"] = "9100", [key] = value }))
            .Build();

        var error = Assert.Throws<Sidecar.Configuration.InvalidConfigurationException>(() => Sidecar.Hosting.AgentOptions.Load(configuration));

        Assert.Contains(expected, error.Errors);
    }

    [Fact]
    public async Task InSupervisorMode_TheAppsProcessHasItsFamiliesToo()
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0",
            ["APP_HEALTH_URL"] = "",
            ["APP_PORT"] = "4567",
        }, "run", "--", "python3", "-c", "import time; print('child ' + 'ready', flush=True); time.sleep(60)");
        await agent.WaitForOutputAsync("child ready");
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });

        var port = (await agent.WaitForApiAsync()).Port; // port 0: the one the agent bound
        var scrape = Scrape.Parse(await client.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics")));

        Assert.InRange(scrape.Value("sidecar_app_process_resident_memory_bytes"), 1_000_000, 4_000_000_000);
        Assert.True(scrape.Types.ContainsKey("sidecar_app_process_cpu_seconds_total"));
        Assert.True(scrape.Value("sidecar_app_process_start_time_seconds") >= scrape.Value("process_start_time_seconds"));
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void ProcStat_IsReadFromAfterTheCommand_WhichMayHoldSpacesAndParentheses()
    {
        const string stat = "8708 (my (odd) app) R 8704 8704 8528 0 -1 4194304 99 0 0 0 250 31 0 0 20 0 1 0 149952 3133440 389 18446744073709551615";

        var (user, system, start) = ProcessStats.ParseStat(stat);

        Assert.Equal((250L, 31L, 149952L), (user, system, start));
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("Max open files            20000                40000                files     ", 20000L)]
    [InlineData("Max open files            unlimited            unlimited            files     ", null)]
    public void MaxOpenFiles_IsTheSoftLimit(string line, long? expected)
    {
        Assert.Equal(expected, ProcessStats.ParseMaxOpenFiles("Limit                     Soft Limit           Hard Limit           Units     \n" + line + "\n"));
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void TheProcessFigures_OfThisProcess_AreThere()
    {
        var stats = ProcessStats.Read();

        Assert.NotNull(stats);
        Assert.True(stats.CpuSeconds > 0);
        Assert.Equal(Environment.ProcessId.ToString(CultureInfo.InvariantCulture), File.ReadAllText("/proc/self/stat").Split(' ')[0]);
    }
}

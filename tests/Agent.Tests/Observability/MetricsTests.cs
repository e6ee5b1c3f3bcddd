using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Sidecar.AppConfig;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Observability;

/// <summary>GET /metrics: each family moves when its event happens (scrape, act, scrape again).</summary>
public sealed class MetricsTests
{
    private static Task<AgentHarness> StartAsync(string routes, params (string Key, string? Value)[] settings)
    {
        var environment = new Dictionary<string, string?> { ["ROUTES"] = routes, ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir() };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return AgentHarness.StartAsync(environment);
    }

    private static string Dead => $"http://127.0.0.1:{LoopbackServer.RefusingPort()}";

    [Fact]
    public async Task Metrics_AreWellFormedPrometheusText_WithEveryFamilyDeclared()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync($"orders={orders.Url}");
        Assert.Equal(HttpStatusCode.OK, (await agent.Client.GetAsync("v1/invoke/orders/x")).StatusCode);

        var scrape = await Scrape.TakeAsync(agent);

        foreach (var family in new[]
        {
            "sidecar_forward_requests_total", "sidecar_forward_duration_seconds", "sidecar_forward_retries_total",
            "sidecar_forward_ejections_total", "sidecar_forward_instances_ejected", "sidecar_forward_errors_total",
            "sidecar_app_health_status", "sidecar_app_health_probe_duration_seconds", "sidecar_app_health_probes_total",
            "sidecar_config_refreshes_total", "sidecar_config_version", "sidecar_config_version_age_seconds",
        })
        {
            Assert.True(scrape.Types.ContainsKey(family), $"{family} is declared");
        }

        Assert.Equal("histogram", scrape.Types["sidecar_forward_duration_seconds"]);
        Assert.Equal(1, scrape.Value("sidecar_forward_duration_seconds_bucket", ("service", "orders"), ("le", "+Inf")));
        Assert.False(scrape.Types.ContainsKey("sidecar_eureka_requests_total")); // standalone: no Eureka families
    }

    [Fact]
    public async Task HeadMetrics_AnswersLikeGet_WithoutABody()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync($"orders={orders.Url}");

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, $"HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1:{agent.BaseUri.Port}");

        Assert.Equal(200, answer.Status);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", answer.Header("Content-Type"));
        Assert.Equal("", answer.Body);
    }

    [Fact]
    public async Task ForwardedRequests_CountByServiceMethodAndCode_AndAreTimed()
    {
        await using var orders = await Upstream.StartAsync("orders", async (context, _) =>
        {
            context.Response.StatusCode = HttpMethods.IsPost(context.Request.Method) ? 201 : 200;
            await context.Response.WriteAsync("ok");
        });
        await using var agent = await StartAsync($"orders={orders.Url}");
        await agent.Client.GetAsync("v1/invoke/orders/warm-up");
        var before = await Scrape.TakeAsync(agent);

        await agent.Client.GetAsync("v1/invoke/orders/a");
        await agent.Client.PostAsync("v1/invoke/orders/b", new StringContent("x"));
        await agent.Client.SendAsync(new HttpRequestMessage(new HttpMethod("BREW"), "v1/invoke/orders/c"));
        var after = await Scrape.TakeAsync(agent);

        Assert.Equal(1, Delta(before, after, "sidecar_forward_requests_total", ("service", "orders"), ("method", "GET"), ("code", "200")));
        Assert.Equal(1, Delta(before, after, "sidecar_forward_requests_total", ("service", "orders"), ("method", "POST"), ("code", "201")));
        Assert.Equal(1, Delta(before, after, "sidecar_forward_requests_total", ("service", "orders"), ("method", "OTHER"), ("code", "200")));
        Assert.Equal(3, Delta(before, after, "sidecar_forward_duration_seconds_count", ("service", "orders")));
        Assert.True(after.Value("sidecar_forward_duration_seconds_sum", ("service", "orders")) > before.Value("sidecar_forward_duration_seconds_sum", ("service", "orders")));
    }

    [Fact]
    public async Task Retries_CountByReason()
    {
        await using var flaky = await Upstream.StartAsync("orders", async (context, n) =>
        {
            context.Response.StatusCode = n switch { 1 => 502, 2 => 503, 3 => 504, _ => 200 };
            await context.Response.WriteAsync("x");
        });
        await using var agent = await StartAsync($"orders={flaky.Url},users={Dead};{Dead}",
            ("Forwarding__Retries", "3"), ("Forwarding__RetryBackoff", "0s"), ("Forwarding__RetryBudgetMinPerSecond", "1000"), ("Forwarding__EjectionFailures", "0"));
        var before = await Scrape.TakeAsync(agent);

        Assert.Equal(HttpStatusCode.OK, (await agent.Client.GetAsync("v1/invoke/orders/x")).StatusCode);
        Assert.Equal(HttpStatusCode.BadGateway, (await agent.Client.PostAsync("v1/invoke/users/x", new StringContent("x"))).StatusCode);
        var after = await Scrape.TakeAsync(agent);

        Assert.Equal(1, Delta(before, after, "sidecar_forward_retries_total", ("service", "orders"), ("reason", "status_502")));
        Assert.Equal(1, Delta(before, after, "sidecar_forward_retries_total", ("service", "orders"), ("reason", "status_503")));
        Assert.Equal(1, Delta(before, after, "sidecar_forward_retries_total", ("service", "orders"), ("reason", "status_504")));
        Assert.Equal(3, Delta(before, after, "sidecar_forward_retries_total", ("service", "users"), ("reason", "connect_error")));
        Assert.Equal(1, Delta(before, after, "sidecar_forward_errors_total", ("service", "users"), ("error", "upstream-unreachable")));
        Assert.Equal(1, Delta(before, after, "sidecar_forward_requests_total", ("service", "users"), ("method", "POST"), ("code", "502")));
    }

    [Fact]
    public async Task ASpentRetryBudget_IsCounted()
    {
        await using var failing = await Upstream.StartAsync("orders", (context, _) =>
        {
            context.Response.StatusCode = 503;
            return Task.CompletedTask;
        });
        await using var agent = await StartAsync($"orders={failing.Url}",
            ("Forwarding__RetryBudgetPercent", "0"), ("Forwarding__RetryBudgetMinPerSecond", "0"), ("Forwarding__EjectionFailures", "0"));
        var before = await Scrape.TakeAsync(agent);

        await agent.Client.GetAsync("v1/invoke/orders/x");
        var after = await Scrape.TakeAsync(agent);

        Assert.Equal(1, Delta(before, after, "sidecar_forward_retry_budget_exhausted_total", ("service", "orders")));
        Assert.Equal(0, Delta(before, after, "sidecar_forward_retries_total", ("service", "orders"), ("reason", "status_503")));
    }

    [Fact]
    public async Task Ejections_AreCounted_AndTheEjectedGaugeShowsThem()
    {
        await using var good = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync($"orders={good.Url};{Dead}", ("Forwarding__EjectionFailures", "2"));
        await agent.Client.GetAsync("v1/invoke/orders/warm-up");
        var before = await Scrape.TakeAsync(agent);
        Assert.Equal(0, before.Value("sidecar_forward_instances_ejected", ("service", "orders")));
        Assert.Equal(2, before.Value("sidecar_forward_instances", ("service", "orders")));

        for (var i = 0; i < 40 && (await Scrape.TakeAsync(agent)).Value("sidecar_forward_ejections_total", ("service", "orders")) == 0; i++)
        {
            await agent.Client.GetAsync("v1/invoke/orders/x");
        }

        var after = await Scrape.TakeAsync(agent);
        Assert.Equal(1, Delta(before, after, "sidecar_forward_ejections_total", ("service", "orders")));
        Assert.Equal(1, after.Value("sidecar_forward_instances_ejected", ("service", "orders")));
        Assert.True(Delta(before, after, "sidecar_forward_retries_total", ("service", "orders"), ("reason", "connect_error")) >= 1);
    }

    [Fact]
    public async Task RefusedRequests_CountUnderTheirServiceOrUnknown_WithTheAgentsErrorCode()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync($"orders={orders.Url}");
        var before = await Scrape.TakeAsync(agent);

        await agent.Client.GetAsync("v1/invoke/nobody/x");
        await agent.Client.GetAsync("proxy?vip=orders&path=%2F..%2F..%2Fetc%2Fpasswd");
        var after = await Scrape.TakeAsync(agent);

        Assert.Equal(1, Delta(before, after, "sidecar_forward_requests_total", ("service", "unknown"), ("method", "GET"), ("code", "404")));
        Assert.Equal(1, Delta(before, after, "sidecar_forward_errors_total", ("service", "unknown"), ("error", "unknown-service")));
        Assert.Equal(1, Delta(before, after, "sidecar_forward_errors_total", ("service", "orders"), ("error", "bad-path")));
        Assert.DoesNotContain("nobody", after.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoLabel_CarriesAPathOrANameFromTheCaller()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await StartAsync($"orders={orders.Url}");
        const string canary = "canary7x";
        var targets = new[]
        {
            $"v1/invoke/orders/{canary}/users/12345?token={canary}",
            $"v1/invoke/{canary}/x",
            $"v1/invoke/{canary}%22%7D%0A/x",
            $"v1/invoke/orders/%22%7D{canary}%0Afake_metric%201",
            $"proxy?vip={canary}&path=/x",
            $"proxy?vip=orders&path=/{canary}",
        };
        foreach (var target in targets)
        {
            await agent.Client.GetAsync(target);
        }

        await agent.Client.SendAsync(new HttpRequestMessage(new HttpMethod(canary.ToUpperInvariant()), "v1/invoke/orders/x"));
        using (var hostile = new HttpRequestMessage(HttpMethod.Get, "/x"))
        {
            hostile.Headers.Host = canary + ".example";
            await agent.Client.SendAsync(hostile);
        }

        await RawHttp.SendAsync(agent.BaseUri.Port, $"GET http://{canary}/x HTTP/1.1\r\nHost: {canary}\r\nConnection: close\r\n\r\n");

        var scrape = await Scrape.TakeAsync(agent);

        Assert.DoesNotContain(canary, scrape.Text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("fake_metric", scrape.Text, StringComparison.Ordinal);
        var allowed = new Dictionary<string, Func<string, bool>>
        {
            ["service"] = v => v is "orders" or "unknown",
            ["method"] = v => v is "GET" or "HEAD" or "POST" or "PUT" or "DELETE" or "PATCH" or "OPTIONS" or "OTHER",
            ["code"] = v => v == "other" || (v.Length == 3 && v.All(char.IsAsciiDigit)),
            ["reason"] = v => v is "connect_error" or "try_timeout" or "transport_error" or "status_502" or "status_503" or "status_504" or "grpc_status",
            ["error"] = v => v is "bad-request" or "bad-path" or "unknown-service" or "body-too-large" or "upstream-unreachable" or "no-instance" or "deadline-exceeded" or "upstream-timeout",
            ["status"] = v => v is "UP" or "DOWN" or "STARTING" or "OUT_OF_SERVICE" or "UNKNOWN",
            ["result"] = v => v is "healthy" or "unhealthy",
            ["outcome"] = v => v is "changed" or "unchanged" or "failed",
            ["le"] = v => v == "+Inf" || double.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out _),
            ["version"] = v => v.All(c => char.IsAsciiDigit(c) || c == '.'),
            ["commit"] = v => v == "unknown" || v.All(char.IsAsciiHexDigitLower),
            ["gc_heap_generation"] = v => v is "gen0" or "gen1" or "gen2",
        };
        foreach (var sample in scrape.Samples)
        {
            foreach (var (name, value) in sample.Labels)
            {
                Assert.True(allowed.TryGetValue(name, out var check), $"label {name} on {sample.Name} is one of the known labels");
                Assert.True(check(value), $"{sample.Name}: {name}=\"{value}\" is from a fixed set");
            }
        }

        Assert.True(scrape.Value("sidecar_forward_requests_total", ("service", "unknown"), ("method", "GET"), ("code", "404")) >= 2);
        Assert.Equal(1, scrape.Value("sidecar_forward_requests_total", ("service", "orders"), ("method", "OTHER"), ("code", "200")));
    }

    [Fact]
    public async Task AppHealth_ProbesAndStatus_FollowTheApp()
    {
        await using var app = await FakeApp.StartAsync();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = app.HealthUrl.ToString(),
            ["APP_HEALTH_INTERVAL"] = "100ms",
            ["APP_HEALTH_FAILURE_THRESHOLD"] = "2",
        });
        await Eventually.TrueAsync(async () => (await Scrape.TakeAsync(agent)).Value("sidecar_app_health_status", ("status", "UP")) == 1, "the app is UP");
        var before = await Scrape.TakeAsync(agent);
        Assert.Equal(0, before.Value("sidecar_app_health_status", ("status", "DOWN")));
        Assert.True(before.Value("sidecar_app_health_probes_total", ("result", "healthy")) >= 1);
        Assert.True(before.Value("sidecar_app_health_probe_duration_seconds_count") >= 1);

        app.Mode = "error";
        await Eventually.TrueAsync(async () => (await Scrape.TakeAsync(agent)).Value("sidecar_app_health_status", ("status", "DOWN")) == 1, "the app is DOWN");
        var after = await Scrape.TakeAsync(agent);

        Assert.Equal(0, after.Value("sidecar_app_health_status", ("status", "UP")));
        Assert.True(Delta(before, after, "sidecar_app_health_probes_total", ("result", "unhealthy")) >= 2);
        Assert.True(after.Value("sidecar_app_health_consecutive_failures") >= 2);
        Assert.True(Delta(before, after, "sidecar_app_health_probe_duration_seconds_count") >= 2);
        Assert.Equal(after.Value("sidecar_app_health_probes_total", ("result", "healthy")) + after.Value("sidecar_app_health_probes_total", ("result", "unhealthy")),
            after.Value("sidecar_app_health_probe_duration_seconds_count"));
    }

    [Fact]
    public async Task Eureka_OperationsCountByOutcome_AndTheAgesMove()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment, time);
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30),
            () => eureka.Instance("ORDERS", "host-a:orders:8080") is not null && eureka.RequestsFor("GET").Count > 0, "registered and fetched");
        await Eventually.TrueAsync(async () => (await Scrape.TakeAsync(agent)).Value("sidecar_eureka_registered") == 1, "registered");
        var before = await Scrape.TakeAsync(agent);
        Assert.Equal(1, before.Value("sidecar_eureka_requests_total", ("operation", "register"), ("outcome", "success")));
        Assert.True(before.Value("sidecar_eureka_requests_total", ("operation", "fetch"), ("outcome", "success")) >= 1);
        Assert.True(before.Has("sidecar_eureka_registry_age_seconds"));
        Assert.True(before.Has("sidecar_eureka_heartbeat_age_seconds"));

        // A renewal, then a failing server: renew failures, and the registry and heartbeat grow old.
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(60),
            () => eureka.RequestsFor("PUT").Count > 0, "renewed");
        await Eventually.TrueAsync(async () => (await Scrape.TakeAsync(agent)).Value("sidecar_eureka_requests_total", ("operation", "renew"), ("outcome", "success")) >= 1, "renew counted");
        eureka.Fail500 = true;
        var failures = 0.0;
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(120), () =>
        {
            failures = Scrape.Of(agent.Get<Sidecar.Observability.PrometheusMetrics>()).Value("sidecar_eureka_requests_total", ("operation", "renew"), ("outcome", "failed"));
            return failures >= 1;
        }, "a failed renewal is counted");
        var after = await Scrape.TakeAsync(agent);

        Assert.True(after.Value("sidecar_eureka_registry_age_seconds") > before.Value("sidecar_eureka_registry_age_seconds"));
        Assert.True(after.Value("sidecar_eureka_heartbeat_age_seconds") > before.Value("sidecar_eureka_heartbeat_age_seconds"));
        Assert.True(Delta(before, after, "sidecar_eureka_requests_total", ("operation", "fetch_delta"), ("outcome", "failed"))
            + Delta(before, after, "sidecar_eureka_requests_total", ("operation", "fetch_delta"), ("outcome", "success")) >= 1);
    }

    [Fact]
    public async Task ConfigRefreshes_CountByOutcome_AndTheVersionAgeMoves()
    {
        using var support = new Sidecar.Tests.AppConfig.ConfigTestSupport();
        await using var server = await FakeConfigServer.StartAsync();
        server.SetProperty("orders", "greeting", "hello");
        await using var agent = await support.StartAgentAsync(support.Environment(server, ("CONFIG_POLL_INTERVAL", "0")));
        var refresher = agent.Get<AppConfigRefresher>();
        await Eventually.TrueAsync(async () => (await Scrape.TakeAsync(agent)).Has("sidecar_config_version_age_seconds"), "the version is seen");
        var before = await Scrape.TakeAsync(agent);
        Assert.Equal(1, before.Value("sidecar_config_version"));

        support.Time.Advance(TimeSpan.FromSeconds(42));
        await refresher.RefreshOnceAsync(CancellationToken.None);
        var unchanged = await Scrape.TakeAsync(agent);
        Assert.Equal(1, Delta(before, unchanged, "sidecar_config_refreshes_total", ("outcome", "unchanged")));
        Assert.True(unchanged.Value("sidecar_config_version_age_seconds") >= before.Value("sidecar_config_version_age_seconds") + 42);

        server.SetProperty("orders", "greeting", "bonjour");
        await refresher.RefreshOnceAsync(CancellationToken.None);
        await Eventually.TrueAsync(async () => (await Scrape.TakeAsync(agent)).Value("sidecar_config_version_age_seconds") == 0, "the new version is live");
        var changed = await Scrape.TakeAsync(agent);
        Assert.Equal(1, Delta(unchanged, changed, "sidecar_config_refreshes_total", ("outcome", "changed")));
        Assert.Equal(2, changed.Value("sidecar_config_version"));

        await server.StopAsync();
        await refresher.RefreshOnceAsync(CancellationToken.None);
        var failed = await Scrape.TakeAsync(agent);
        Assert.Equal(1, Delta(changed, failed, "sidecar_config_refreshes_total", ("outcome", "failed")));
        Assert.Equal(2, failed.Value("sidecar_config_version"));
    }

    [Fact]
    public async Task ConfigRefreshes_CountTheFirstLoad_WithItsOutcome()
    {
        using var support = new Sidecar.Tests.AppConfig.ConfigTestSupport();
        await using var server = await FakeConfigServer.StartAsync();
        server.SetProperty("orders", "greeting", "hello");
        await using (var agent = await support.StartAgentAsync(support.Environment(server, ("CONFIG_POLL_INTERVAL", "0"))))
        {
            var loaded = await Scrape.TakeAsync(agent);
            Assert.Equal(1, loaded.Value("sidecar_config_refreshes_total", ("outcome", "changed")));
            Assert.Equal(0, loaded.Value("sidecar_config_refreshes_total", ("outcome", "failed")));
        }

        // Every server down at the next start: the last-known-good copy is served, and the load counts as failed.
        await server.StopAsync();
        await using (var agent = await support.StartAgentAsync(support.Environment(server, ("CONFIG_POLL_INTERVAL", "0"))))
        {
            var fromCopy = await Scrape.TakeAsync(agent);
            Assert.Equal(0, fromCopy.Value("sidecar_config_refreshes_total", ("outcome", "changed")));
            Assert.Equal(1, fromCopy.Value("sidecar_config_refreshes_total", ("outcome", "failed")));
        }

        // A local file alone: its first read is a load too.
        var file = support.WriteFile("app.json", """{"greeting":"from-file"}""");
        await using (var agent = await support.StartAgentAsync(support.Environment(null, ("CONFIG_FILE", file), ("CONFIG_POLL_INTERVAL", "0"))))
        {
            Assert.Equal(1, (await Scrape.TakeAsync(agent)).Value("sidecar_config_refreshes_total", ("outcome", "changed")));
        }
    }

    [Fact]
    public async Task ThePublicHealthListener_DoesNotServeMetrics()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["SIDECAR_PUBLIC_HEALTH_PORT"] = "0" });
        using var client = new HttpClient { BaseAddress = agent.PublicHealthUri };

        using var response = await client.GetAsync("metrics");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.DoesNotContain("sidecar_", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await agent.Client.GetAsync("metrics")).StatusCode);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task TheRegistry_WritesTheStrictTextFormat_EscapingLabelValues()
    {
        var registry = new Sidecar.Observability.MetricsRegistry();
        registry.Factory.CreateCounter("x_total", "A help text.", ["service"]).WithLabels("a\"b\\c\nd").Inc();
        registry.ForwardDuration.WithLabels("orders").Observe(0.003);
        using var body = new MemoryStream();

        await registry.WriteAsync(body, CancellationToken.None);

        var text = System.Text.Encoding.UTF8.GetString(body.ToArray());
        var scrape = Scrape.Parse(text);
        Assert.Equal("a\"b\\c\nd", Assert.Single(scrape.Samples, s => s.Name == "x_total").Labels["service"]);
        Assert.Contains("x_total{service=\"a\\\"b\\\\c\\nd\"} 1\n", text, StringComparison.Ordinal);
        Assert.Equal(1, scrape.Value("sidecar_forward_duration_seconds_bucket", ("service", "orders"), ("le", "0.005")));
        Assert.Equal(0, scrape.Value("sidecar_forward_duration_seconds_bucket", ("service", "orders"), ("le", "0.0025")));
        Assert.Equal(1, scrape.Value("sidecar_forward_duration_seconds_count", ("service", "orders")));
    }

    private static double Delta(Scrape before, Scrape after, string name, params (string Key, string Value)[] labels) =>
        after.Value(name, labels) - before.Value(name, labels);
}

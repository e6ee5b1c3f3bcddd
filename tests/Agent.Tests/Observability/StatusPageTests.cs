using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Sidecar.Discovery;
using Sidecar.Health;
using Sidecar.Observability;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Observability;

/// <summary>GET /: HTML for browsers, JSON for everyone else, from one model so they agree; everything escaped, secrets masked.</summary>
public sealed class StatusPageTests
{
    private const string BrowserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

    private static async Task<string> GetAsync(AgentHarness agent, string accept, string path = "/")
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Accept", accept);
        using var response = await agent.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData(null, false)]
    [InlineData("*/*", false)]
    [InlineData("application/json", false)]
    [InlineData("text/html", true)]
    [InlineData(BrowserAccept, true)]
    [InlineData("application/json, text/html", false)]
    [InlineData("text/html;q=0.5, application/json", false)]
    [InlineData("text/html, application/json;q=0.9", true)]
    [InlineData("text/plain", false)]
    public void OnlyAnAcceptPreferringHtml_GetsHtml(string? accept, bool html)
    {
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        if (accept is not null)
        {
            context.Request.Headers.Accept = accept;
        }

        Assert.Equal(html, ObservabilityExtensions.PrefersHtml(context.Request));
    }

    [Fact]
    public async Task ABrowser_GetsTheHtmlPage_WithAStrictContentSecurityPolicy()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_NAME"] = "billing" });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.TryAddWithoutValidation("Accept", BrowserAccept);

        using var response = await agent.Client.SendAsync(request);
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'sha256-", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.Contains("billing", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html.Replace("http://127.0.0.1", "", StringComparison.Ordinal), StringComparison.Ordinal); // no external asset
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        Assert.DoesNotContain(" src=", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheJson_KeepsTheIndexRoutes_AndAddsTheStatus()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>());

        using var document = JsonDocument.Parse(await GetAsync(agent, "application/json"));
        var root = document.RootElement;

        Assert.Equal("sidecar-agent", root.GetProperty("name").GetString());
        var paths = root.GetProperty("routes").EnumerateArray().Select(r => r.GetProperty("path").GetString()).ToList();
        Assert.Contains("/metrics", paths);
        Assert.Contains("/", paths);
        Assert.Equal("UP", root.GetProperty("health").GetProperty("status").GetString());
        Assert.Equal("disabled", root.GetProperty("registration").GetProperty("state").GetString());
    }

    [Fact]
    public async Task ThePageAndItsJson_Agree()
    {
        await using var app = await FakeApp.StartAsync();
        await using var good = await Upstream.StartAsync("orders");
        var dead = $"http://127.0.0.1:{LoopbackServer.RefusingPort()}";
        using var support = new Sidecar.Tests.AppConfig.ConfigTestSupport();
        var file = support.WriteFile("app.json", """{"db":{"url":"postgres://db/orders","password":"hunter2"},"feature":{"beta":"on"}}""");
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["ROUTES"] = $"orders={good.Url};{dead},users={good.Url}",
            ["APP_HEALTH_URL"] = app.HealthUrl.ToString(),
            ["APP_HEALTH_INTERVAL"] = "100ms",
            ["CONFIG_FILE"] = file,
            ["Forwarding__EjectionFailures"] = "1",
        });
        await Eventually.TrueAsync(async () => (await GetAsync(agent, "application/json")).Contains("\"probes\":[{", StringComparison.Ordinal), "a probe is recorded");
        for (var i = 0; i < 20 && !(await GetAsync(agent, "application/json")).Contains("\"state\":\"ejected\"", StringComparison.Ordinal); i++)
        {
            await agent.Client.GetAsync("v1/invoke/orders/x");
        }

        using var document = JsonDocument.Parse(await GetAsync(agent, "application/json"));
        var html = await GetAsync(agent, BrowserAccept);
        var root = document.RootElement;

        Assert.Contains($"id=\"health-status\">{root.GetProperty("health").GetProperty("status").GetString()}<", html, StringComparison.Ordinal);
        Assert.Contains($"id=\"registration-state\">{root.GetProperty("registration").GetProperty("state").GetString()}<", html, StringComparison.Ordinal);
        Assert.Contains($"id=\"config-version\">{root.GetProperty("config").GetProperty("version").GetInt64()}<", html, StringComparison.Ordinal);
        Assert.Equal(2, root.GetProperty("services").GetArrayLength());
        foreach (var service in root.GetProperty("services").EnumerateArray())
        {
            Assert.Contains($"data-service=\"{service.GetProperty("name").GetString()}\"", html, StringComparison.Ordinal);
            foreach (var instance in service.GetProperty("instances").EnumerateArray())
            {
                Assert.Contains($"data-instance=\"{instance.GetProperty("instanceId").GetString()}\" data-state=\"{instance.GetProperty("state").GetString()}\"", html, StringComparison.Ordinal);
            }
        }

        var orders = root.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "orders");
        var ejected = orders.GetProperty("instances").EnumerateArray().Single(i => i.GetProperty("ejected").GetBoolean());
        Assert.Equal(dead["http://".Length..], ejected.GetProperty("address").GetString());
        Assert.Contains("EJECTED", html, StringComparison.Ordinal);
        Assert.True(ejected.GetProperty("recentFailures").GetInt64() >= 1);

        foreach (var key in root.GetProperty("config").GetProperty("keys").EnumerateArray())
        {
            Assert.Contains($"data-key=\"{key.GetProperty("key").GetString()}\"", html, StringComparison.Ordinal);
            Assert.Contains(System.Net.WebUtility.HtmlEncode(key.GetProperty("value").GetString()!), html, StringComparison.Ordinal);
        }

        foreach (var entry in root.GetProperty("events").EnumerateArray())
        {
            Assert.Contains(System.Net.WebUtility.HtmlEncode(entry.GetProperty("message").GetString()!), html, StringComparison.Ordinal);
        }

        Assert.Contains(root.GetProperty("events").EnumerateArray(), e => e.GetProperty("kind").GetString() == "ejection");
        Assert.Contains(root.GetProperty("events").EnumerateArray(), e => e.GetProperty("kind").GetString() == "health");
        Assert.True(root.GetProperty("health").GetProperty("probes").GetArrayLength() >= 1);
        Assert.Contains("class=\"probes\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SecretConfigValues_AreMasked_InThePageAndTheJson()
    {
        using var support = new Sidecar.Tests.AppConfig.ConfigTestSupport();
        var file = support.WriteFile("app.json", """
            {"db":{"password":"pw-hunter2"},"api":{"token":"tok-9f8e","key":"key-77"},"aws":{"secretAccessKey":"sak-1"},
             "service":{"credentials":"cred-5"},"greeting":"hello-visible"}
            """);
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["CONFIG_FILE"] = file });

        var json = await GetAsync(agent, "application/json");
        var html = await GetAsync(agent, BrowserAccept);
        var fragment = await GetAsync(agent, "*/*", "/?view=fragment");

        foreach (var body in new[] { json, html, fragment })
        {
            foreach (var secret in new[] { "pw-hunter2", "tok-9f8e", "key-77", "sak-1", "cred-5" })
            {
                Assert.DoesNotContain(secret, body, StringComparison.Ordinal);
            }

            Assert.Contains("hello-visible", body, StringComparison.Ordinal);
            Assert.Contains("db.password", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task NamesFromEurekaAndConfig_AreHtmlEncoded()
    {
        const string evil = "<img src=x onerror=alert(1)>\"'&";
        var source = new FakeServiceInstanceSource();
        source.Set("orders", FakeServiceInstanceSource.Instance("orders", 9) with { InstanceId = evil, Zone = "<script>alert(2)</script>" });
        using var support = new Sidecar.Tests.AppConfig.ConfigTestSupport();
        var file = support.WriteFile("app.json", """{"x<script>":"</td><script>alert(3)</script>"}""");
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["CONFIG_FILE"] = file, ["APP_NAME"] = "billing" },
            services => services.AddSingleton<IServiceInstanceSource>(source));

        var html = await GetAsync(agent, BrowserAccept);
        var fragment = await GetAsync(agent, "*/*", "/?view=fragment");

        Assert.Equal(1, html.Split("<script").Length - 1); // only the page's own script
        Assert.DoesNotContain("<script", fragment, StringComparison.Ordinal);
        Assert.DoesNotContain("<img", html, StringComparison.Ordinal);
        Assert.Contains(System.Net.WebUtility.HtmlEncode(evil), html, StringComparison.Ordinal);
        Assert.Contains("&lt;/td&gt;&lt;script&gt;alert(3)&lt;/script&gt;", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registration_ShowsTheLeaseAndTheLastHeartbeat()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment, time);
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => eureka.Instance("ORDERS", "host-a:orders:8080") is not null, "registered");
        await Eventually.TrueAsync(async () => (await GetAsync(agent, "application/json")).Contains("\"state\":\"registered\"", StringComparison.Ordinal), "registered on the page");

        using var document = JsonDocument.Parse(await GetAsync(agent, "application/json"));
        var registration = document.RootElement.GetProperty("registration");
        var html = await GetAsync(agent, BrowserAccept);

        Assert.Equal("UP", registration.GetProperty("eurekaStatus").GetString());
        Assert.Equal("ORDERS/host-a:orders:8080", registration.GetProperty("instanceId").GetString());
        Assert.Equal(time.GetUtcNow(), registration.GetProperty("lastHeartbeat").GetDateTimeOffset());
        Assert.Contains("id=\"last-heartbeat\">" + time.GetUtcNow().UtcDateTime.ToString("HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture), html, StringComparison.Ordinal);
        Assert.Contains(document.RootElement.GetProperty("events").EnumerateArray(), e => e.GetProperty("kind").GetString() == "registration");
    }

    [Fact]
    public void TheEventLog_KeepsTheNewestEvents_NewestFirst()
    {
        var log = new AgentEventLog(TimeProvider.System);
        for (var i = 0; i < AgentEventLog.Capacity + 5; i++)
        {
            log.Add(AgentEventKind.Config, $"event {i}");
        }

        var recent = log.Recent();

        Assert.Equal(AgentEventLog.Capacity, recent.Count);
        Assert.Equal($"event {AgentEventLog.Capacity + 4}", recent[0].Message);
        Assert.Equal("event 5", recent[^1].Message);
        Assert.Equal(AgentEventLog.Capacity + 5, log.Total);
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("db.password", true)]
    [InlineData("spring.datasource.PASSWORD", true)]
    [InlineData("api.token", true)]
    [InlineData("aws.secretAccessKey", true)]
    [InlineData("client.credentials", true)]
    [InlineData("apiKey", true)]
    [InlineData("greeting", false)]
    [InlineData("db.url", false)]
    public void SecretLookingKeys_AreRecognised(string key, bool secret) =>
        Assert.Equal(secret, ConfigRedaction.LooksSecret(key));

    // The name=value pattern spells the key words out (a generated regex needs a constant): each must be in it.
    [Trait("Category", "Unit")]
    [Fact]
    public void EveryKeyWordOfASecretKey_IsMaskedInANameValuePartToo()
    {
        foreach (var word in ConfigRedaction.SecretWords)
        {
            var shown = ConfigRedaction.Shown("innocent", $"Server=x;my{word}=s3cr3t;Timeout=5", out var masked);
            Assert.True(masked, word);
            Assert.Equal($"Server=x;my{word}={ConfigRedaction.Mask};Timeout=5", shown);
        }
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("db.password", "anything", "••••••")]
    [InlineData("db.url", "postgres://admin:hunter2xx@db/x", "postgres://***@db/x")]
    [InlineData("db.url", "jdbc:postgresql://db:5432/x?user=u&password=p4ss&ssl=true", "jdbc:postgresql://db:5432/x?user=u&password=••••••&ssl=true")]
    [InlineData("ConnectionStrings.Default", "Server=x;User Id=u;Password=Hunter3yy;", "Server=x;User Id=u;Password=••••••;")]
    [InlineData("ConnectionStrings.Default", "Server=x;Pwd = 'a;b';Database=d", "Server=x;Pwd = ••••••;Database=d")]
    [InlineData("storage", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0==;EndpointSuffix=x", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=••••••;EndpointSuffix=x")]
    [InlineData("auth.header", "Bearer abc.def-ghi", "Bearer ••••••")]
    [InlineData("auth.header", "Basic dXNlcjpwYXNz", "Basic ••••••")]
    [InlineData("sso", "x eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig y", "x •••••• y")]
    [InlineData("greeting", "Basic setup, then go", "Basic setup, then go")]
    [InlineData("greeting", "Basic Setup", "Basic Setup")]
    [InlineData("greeting", "hello=world; a=b", "hello=world; a=b")]
    [InlineData("site", "https://example.org/a?b=c", "https://example.org/a?b=c")]
    public void SecretParts_OfValuesUnderInnocentKeys_AreMasked(string key, string value, string shown)
    {
        Assert.Equal(shown, ConfigRedaction.Shown(key, value, out var masked));
        Assert.Equal(shown != value, masked);
    }
}

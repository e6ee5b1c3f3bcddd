using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Actuator;

/// <summary>
/// What Spring Boot Admin does with an app it discovers in Eureka, step by step, against the real agent
/// registered in the fake Eureka (docs/actuator.md#what-spring-boot-admin-does): its
/// <c>EurekaServiceInstanceConverter</c> and <c>DefaultServiceInstanceConverter</c> build the health and
/// management URLs from the instance, <c>BasicAuthHttpHeaderProvider</c> reads the credentials from the metadata,
/// <c>QueryIndexEndpointStrategy</c> reads the index and keeps the links that are neither <c>self</c> nor
/// templated, <c>StatusUpdater</c> reads the health, the loggers view POSTs a level.
/// </summary>
public sealed class SpringBootAdminTests
{
    // Spring Boot Admin 3's default Accept for the actuator (InstanceExchangeFilterFunctions).
    private const string AdminAccept = "application/vnd.spring-boot.actuator.v3+json, application/vnd.spring-boot.actuator.v2+json, application/vnd.spring-boot.actuator.v1+json, application/json";

    [Fact]
    public async Task SpringBootAdmin_FindsTheApp_FollowsTheIndex_ReadsHealthAndInfo_ChangesTheLogLevel_AndSeesDown()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var probe = new FakeAppHealthProbe(healthy: true);
        var configFile = Path.Combine(RegisteredAgent.NewDataDir() + "-config.yml");
        await File.WriteAllTextAsync(configFile, "greeting: hello\ndb:\n  password: hunter2\ninfo:\n  build:\n    version: 2.3.0\n");
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HOST"] = "127.0.0.1"; // what the admin server will call
        environment["APP_IP"] = "127.0.0.1";
        environment["SIDECAR_PUBLIC_HEALTH_PORT"] = "9999"; // the harness makes it port 0: the agent binds a free one, and registers that
        environment["SIDECAR_ACTUATOR_EXPOSE"] = "loggers,metrics,env,prometheus";
        environment["SIDECAR_ACTUATOR_USER"] = "admin";
        environment["SIDECAR_ACTUATOR_PASSWORD"] = "s3cret";
        environment["CONFIG_FILE"] = configFile;
        await using var agent = await AgentHarness.StartAsync(environment, services => services.AddSingleton<IAppHealthProbe>(probe));
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", "127.0.0.1:orders:8080")?.Status == InstanceStatus.Up, "the agent registered UP");
        using var admin = new HttpClient(new SocketsHttpHandler { UseProxy = false });

        // 1. The instance, as Eureka serves it to the admin server's discovery client.
        using var fromEureka = new HttpRequestMessage(HttpMethod.Get, new Uri(eureka.ServiceUrl, "apps/ORDERS"));
        fromEureka.Headers.Accept.ParseAdd("application/json");
        using var application = JsonDocument.Parse(await (await admin.SendAsync(fromEureka)).Content.ReadAsStringAsync());
        var instances = application.RootElement.GetProperty("application").GetProperty("instance");
        var instance = instances.ValueKind == JsonValueKind.Array ? Assert.Single(instances.EnumerateArray()) : instances;
        var metadata = instance.GetProperty("metadata").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        var serviceUrl = new Uri($"http://{instance.GetProperty("hostName").GetString()}:{instance.GetProperty("port").GetProperty("$").GetInt32()}");

        // 2. The management URL: the service's scheme and host, management.port, management.context-path.
        var host = metadata.GetValueOrDefault("management.address") ?? serviceUrl.Host;
        var managementUrl = new Uri($"{serviceUrl.Scheme}://{host}:{metadata["management.port"]}{metadata["management.context-path"]}");
        var healthUrl = new Uri(instance.GetProperty("healthCheckUrl").GetString()!);
        Assert.Equal(agent.PublicHealthUri!.Port, managementUrl.Port);
        Assert.Equal(new Uri(managementUrl + "/health"), healthUrl);
        Assert.Equal(managementUrl + "/info", instance.GetProperty("statusPageUrl").GetString());
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes(metadata["user.name"] + ":" + metadata["user.password"])));
        admin.DefaultRequestHeaders.Accept.ParseAdd(AdminAccept);

        // 3. The index: an actuator media type, and the endpoints to follow.
        using var index = await admin.GetAsync(managementUrl);
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal("application/vnd.spring-boot.actuator.v3+json", index.Content.Headers.ContentType?.MediaType);
        using var links = JsonDocument.Parse(await index.Content.ReadAsStringAsync());
        var endpoints = links.RootElement.GetProperty("_links").EnumerateObject()
            .Where(l => l.Name != "self" && !l.Value.GetProperty("templated").GetBoolean())
            .ToDictionary(l => l.Name, l => new Uri(l.Value.GetProperty("href").GetString()!));
        Assert.Equal(["env", "health", "info", "loggers", "metrics", "prometheus"], endpoints.Keys.Order());
        Assert.Equal(healthUrl, endpoints["health"]);

        // 4. Health, as the StatusUpdater reads it: a "status" string, and the components.
        using (var health = JsonDocument.Parse(await admin.GetStringAsync(healthUrl)))
        {
            Assert.Equal("UP", health.RootElement.GetProperty("status").GetString());
            var components = health.RootElement.GetProperty("components");
            Assert.Equal(["app", "config", "registration", "registry"], components.EnumerateObject().Select(c => c.Name));
            Assert.Equal("UP", components.GetProperty("app").GetProperty("status").GetString());
        }

        // 5. Info: the app, the agent, and the app's own info.* keys (the build version Spring Boot Admin shows).
        using (var info = JsonDocument.Parse(await admin.GetStringAsync(endpoints["info"])))
        {
            Assert.Equal("orders", info.RootElement.GetProperty("app").GetProperty("name").GetString());
            Assert.Equal("2.3.0", info.RootElement.GetProperty("build").GetProperty("version").GetString());
            Assert.False(string.IsNullOrEmpty(info.RootElement.GetProperty("sidecar").GetProperty("version").GetString()));
        }

        // 6. Loggers: the level, changed at run time by the loggers view; the agent then logs at DEBUG.
        var logger = agent.Get<ILoggerFactory>().CreateLogger("Sidecar.Forwarding.Forwarder");
        Assert.False(logger.IsEnabled(LogLevel.Debug));
        Assert.Equal("INFO", await RootLevelAsync(admin, endpoints["loggers"]));
        using var post = await admin.PostAsync(endpoints["loggers"] + "/ROOT", new StringContent("""{"configuredLevel":"DEBUG"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NoContent, post.StatusCode);
        Assert.True(logger.IsEnabled(LogLevel.Debug));
        Assert.Equal("DEBUG", await RootLevelAsync(admin, endpoints["loggers"]));
        Assert.Contains("\"level\":\"debug\"", await agent.Client.GetStringAsync("/v1/logging"), StringComparison.Ordinal); // the same switch as PUT /v1/logging

        // 7. Metrics, env and prometheus: the agent's numbers, the app's config with secrets masked.
        using (var names = JsonDocument.Parse(await admin.GetStringAsync(endpoints["metrics"])))
        {
            Assert.Contains("sidecar.app.health.probes", names.RootElement.GetProperty("names").EnumerateArray().Select(n => n.GetString()));
        }

        using (var probes = JsonDocument.Parse(await admin.GetStringAsync(endpoints["metrics"] + "/sidecar.app.health.probes")))
        {
            var count = probes.RootElement.GetProperty("measurements").EnumerateArray().Single(m => m.GetProperty("statistic").GetString() == "COUNT");
            Assert.True(count.GetProperty("value").GetDouble() >= 1);
        }

        using (var env = JsonDocument.Parse(await admin.GetStringAsync(endpoints["env"])))
        {
            var properties = env.RootElement.GetProperty("propertySources")[0].GetProperty("properties");
            Assert.Equal("hello", properties.GetProperty("greeting").GetProperty("value").GetString());
            Assert.Equal("******", properties.GetProperty("db.password").GetProperty("value").GetString());
        }

        Assert.Contains("sidecar_app_health_probes_total", await admin.GetStringAsync(endpoints["prometheus"]), StringComparison.Ordinal);

        // 8. The app fails its health checks: DOWN, with 503, as a Spring Boot app's health says it.
        probe.Healthy = false;
        var monitor = agent.Get<AppHealthMonitor>();
        for (var i = 0; i < 3; i++)
        {
            await monitor.ProbeOnceAsync(CancellationToken.None); // the failure threshold is 3
        }

        using var down = await admin.GetAsync(healthUrl);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        using var downBody = JsonDocument.Parse(await down.Content.ReadAsStringAsync());
        Assert.Equal("DOWN", downBody.RootElement.GetProperty("status").GetString());
        Assert.Equal("DOWN", downBody.RootElement.GetProperty("components").GetProperty("app").GetProperty("status").GetString());
        File.Delete(configFile);
    }

    private static async Task<string?> RootLevelAsync(HttpClient admin, Uri loggers)
    {
        using var document = JsonDocument.Parse(await admin.GetStringAsync(loggers));
        return document.RootElement.GetProperty("loggers").GetProperty("ROOT").GetProperty("configuredLevel").GetString();
    }
}

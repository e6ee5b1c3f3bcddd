using System.Net;
using System.Text.Json;
using Sidecar.Discovery;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Discovery;

/// <summary>Prana's <c>/eureka/hosts</c>, Spring Cloud Sidecar's <c>/hosts/{serviceId}</c>, and <c>/v1/services</c>, answered from the Eureka registry.</summary>
public sealed class DiscoveryApiTests
{
    private static async Task<(FakeEureka Eureka, AgentHarness Agent)> StartAsync(bool preferIp = false)
    {
        var eureka = await FakeEureka.StartAsync();
        eureka.Seed(EurekaInstances.Create("payments", "p1", "pay-1", "10.0.1.1", 9000, zone: "z1"));
        eureka.Seed(EurekaInstances.Create("payments", "p2", "pay-2", "10.0.1.2", 9001, InstanceStatus.Down));
        eureka.Seed(EurekaInstances.Create("payments", "p3", "pay-3", "10.0.1.3", 9002, vip: "payments-canary"));
        eureka.Seed(EurekaInstances.Create("billing", "b1", "bill-1", "10.0.2.1", 8443, secureOnly: true));
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        environment["EUREKA_PREFER_IP"] = preferIp ? "true" : "false";
        var agent = await RegisteredAgent.StartAsync(environment);
        await Eventually.TrueAsync(() => agent.Get<EurekaRegistry>().View.GetInstances("billing") is not null, "the full fetch");
        return (eureka, agent);
    }

    private static async Task<JsonElement> GetJson(AgentHarness agent, string path)
    {
        using var response = await agent.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    [Fact]
    public async Task EurekaHosts_ListsUpInstancesOnly_ByHostName()
    {
        var (eureka, agent) = await StartAsync();
        await using var _ = eureka;
        await using var __ = agent;

        var hosts = await GetJson(agent, "eureka/hosts?appName=PAYMENTS");

        Assert.Equal(["pay-1", "pay-3"], hosts.EnumerateArray().Select(h => h.GetString()));
    }

    [Fact]
    public async Task EurekaHosts_WithPreferIp_ListsIps()
    {
        var (eureka, agent) = await StartAsync(preferIp: true);
        await using var _ = eureka;
        await using var __ = agent;

        var hosts = await GetJson(agent, "eureka/hosts?appName=payments");

        Assert.Equal(["10.0.1.1", "10.0.1.3"], hosts.EnumerateArray().Select(h => h.GetString()));
    }

    [Fact]
    public async Task EurekaHosts_WithVip_ListsOnlyTheInstancesBehindIt()
    {
        var (eureka, agent) = await StartAsync();
        await using var _ = eureka;
        await using var __ = agent;

        Assert.Equal(["pay-3"], (await GetJson(agent, "eureka/hosts?appName=payments&vip=payments-canary")).EnumerateArray().Select(h => h.GetString()));
        Assert.Empty((await GetJson(agent, "eureka/hosts?appName=payments&vip=nothing")).EnumerateArray());
        Assert.Empty((await GetJson(agent, "eureka/hosts?appName=unknown")).EnumerateArray());
    }

    [Fact]
    public async Task EurekaHosts_WithoutAppName_Answers400Problem()
    {
        var (eureka, agent) = await StartAsync();
        await using var _ = eureka;
        await using var __ = agent;

        using var response = await agent.Client.GetAsync("eureka/hosts?vip=payments");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("bad-request", response.Headers.GetValues("X-Sidecar-Error").Single());
    }

    [Fact]
    public async Task Hosts_ListsUpInstancesOnly_InSpringCloudSidecarShape()
    {
        var (eureka, agent) = await StartAsync();
        await using var _ = eureka;
        await using var __ = agent;

        var instances = await GetJson(agent, "hosts/Payments");

        // Spring Cloud Sidecar's DiscoveryClient: Netflix's client keeps UP instances only (filterOnlyUpInstances).
        Assert.Equal(["p1", "p3"], instances.EnumerateArray().Select(i => i.GetProperty("instanceId").GetString()));
        var first = instances[0];
        Assert.Equal(
            ["serviceId", "instanceId", "host", "port", "secure", "uri", "status", "zone", "metadata"],
            first.EnumerateObject().Select(p => p.Name));
        Assert.Equal("payments", first.GetProperty("serviceId").GetString());
        Assert.Equal("p1", first.GetProperty("instanceId").GetString());
        Assert.Equal("pay-1", first.GetProperty("host").GetString());
        Assert.Equal(9000, first.GetProperty("port").GetInt32());
        Assert.False(first.GetProperty("secure").GetBoolean());
        Assert.Equal("http://pay-1:9000", first.GetProperty("uri").GetString());
        Assert.Equal("UP", first.GetProperty("status").GetString());
        Assert.Equal("z1", first.GetProperty("zone").GetString());
        Assert.Equal("z1", first.GetProperty("metadata").GetProperty("zone").GetString());
        Assert.Empty((await GetJson(agent, "hosts/unknown")).EnumerateArray());

        // The native route keeps every status.
        var all = await GetJson(agent, "v1/services/payments/instances");
        Assert.Equal(["UP", "DOWN", "UP"], all.EnumerateArray().Select(i => i.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task Instances_OfASecureOnlyService_UseTheSecurePortAndHttps()
    {
        var (eureka, agent) = await StartAsync();
        await using var _ = eureka;
        await using var __ = agent;

        var instance = (await GetJson(agent, "v1/services/billing/instances"))[0];

        Assert.Equal(8443, instance.GetProperty("port").GetInt32());
        Assert.True(instance.GetProperty("secure").GetBoolean());
        Assert.Equal("https://bill-1:8443", instance.GetProperty("uri").GetString());
    }

    [Fact]
    public async Task Instances_OfAnUnknownService_Answers404Problem()
    {
        var (eureka, agent) = await StartAsync();
        await using var _ = eureka;
        await using var __ = agent;

        using var response = await agent.Client.GetAsync("v1/services/unknown/instances");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("unknown-service", response.Headers.GetValues("X-Sidecar-Error").Single());
    }

    [Fact]
    public async Task Services_ListsEveryKnownServiceWithCounts()
    {
        var (eureka, agent) = await StartAsync();
        await using var _ = eureka;
        await using var __ = agent;

        var services = await GetJson(agent, "v1/services");

        var list = services.GetProperty("services").EnumerateArray()
            .Select(s => $"{s.GetProperty("name").GetString()} {s.GetProperty("source").GetString()} {s.GetProperty("instances").GetInt32()} {s.GetProperty("up").GetInt32()}")
            .ToList();
        Assert.Contains("billing eureka 1 1", list);
        Assert.Contains("payments eureka 3 2", list);
        Assert.Equal("server", services.GetProperty("eureka").GetProperty("origin").GetString());
    }

    [Fact]
    public async Task TheCatalog_FindsServicesByAppNameAndByVip_CaseInsensitive()
    {
        var (eureka, agent) = await StartAsync();
        await using var _ = eureka;
        await using var __ = agent;
        var catalog = agent.Get<ServiceCatalog>();

        Assert.Equal(3, catalog.GetInstances("PAYMENTS")!.Count);
        Assert.Equal("p3", Assert.Single(catalog.GetInstances("Payments-Canary")!).InstanceId);
        Assert.Null(catalog.GetInstances("nothing"));
        Assert.Contains("payments", catalog.ServiceNames());
    }

    [Fact]
    public async Task InStandaloneMode_TheRoutesAnswerEmpty()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "" });

        Assert.Empty((await GetJson(agent, "eureka/hosts?appName=payments")).EnumerateArray());
        Assert.Empty((await GetJson(agent, "hosts/payments")).EnumerateArray());
        var services = await GetJson(agent, "v1/services");
        Assert.Empty(services.GetProperty("services").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, services.GetProperty("eureka").ValueKind);
    }
}

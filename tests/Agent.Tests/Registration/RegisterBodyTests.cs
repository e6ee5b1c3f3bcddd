using System.Text.Json;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

/// <summary>The register request on the wire, field by field, against docs/eureka.md#register-body.</summary>
public sealed class RegisterBodyTests
{
    [Fact]
    public async Task Register_SendsEveryFieldOfTheProtocol()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = ""; // no probe: UP at once
        environment["EUREKA_ZONE"] = "z1";
        environment["APP_METADATA"] = "team=payments,tier=gold";
        await using var agent = await RegisteredAgent.StartAsync(environment, time);

        await Eventually.TrueAsync(() => eureka.RequestsFor("POST").Count > 0, "the agent registered");
        var request = eureka.RequestsFor("POST")[0];

        Assert.Equal("/eureka/apps/ORDERS", request.Path);
        Assert.Equal(204, request.StatusCode);
        Assert.StartsWith("application/json", request.ContentType, StringComparison.Ordinal);
        Assert.Contains("application/json", request.Accept, StringComparison.Ordinal);

        using var document = JsonDocument.Parse(request.Body);
        var root = document.RootElement;
        Assert.Equal(["instance"], root.EnumerateObject().Select(p => p.Name));
        var instance = root.GetProperty("instance");
        var stamp = time.GetUtcNow().ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal("host-a:orders:8080", instance.GetProperty("instanceId").GetString());
        Assert.Equal("ORDERS", instance.GetProperty("app").GetString());
        Assert.Equal("host-a", instance.GetProperty("hostName").GetString());
        Assert.Equal("10.0.0.5", instance.GetProperty("ipAddr").GetString());
        Assert.Equal("UP", instance.GetProperty("status").GetString());
        Assert.Equal("UNKNOWN", instance.GetProperty("overriddenstatus").GetString());
        Assert.Equal(8080, instance.GetProperty("port").GetProperty("$").GetInt32());
        Assert.Equal("true", instance.GetProperty("port").GetProperty("@enabled").GetString());
        Assert.Equal(443, instance.GetProperty("securePort").GetProperty("$").GetInt32());
        Assert.Equal("false", instance.GetProperty("securePort").GetProperty("@enabled").GetString());
        Assert.Equal("http://host-a:8080/", instance.GetProperty("homePageUrl").GetString());
        // As a Spring Boot app registers itself: the actuator's info and health (docs/actuator.md#registration).
        Assert.Matches(@"^http://host-a:\d+/actuator/info$", instance.GetProperty("statusPageUrl").GetString());
        Assert.Matches(@"^http://host-a:\d+/actuator/health$", instance.GetProperty("healthCheckUrl").GetString());
        Assert.Equal("orders", instance.GetProperty("vipAddress").GetString());
        Assert.Equal("orders", instance.GetProperty("secureVipAddress").GetString());
        Assert.Equal("com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", instance.GetProperty("dataCenterInfo").GetProperty("@class").GetString());
        Assert.Equal("MyOwn", instance.GetProperty("dataCenterInfo").GetProperty("name").GetString());
        Assert.Equal(30, instance.GetProperty("leaseInfo").GetProperty("renewalIntervalInSecs").GetInt32());
        Assert.Equal(90, instance.GetProperty("leaseInfo").GetProperty("durationInSecs").GetInt32());
        var metadata = instance.GetProperty("metadata").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.Equal(new Uri(instance.GetProperty("healthCheckUrl").GetString()!).Port.ToString(System.Globalization.CultureInfo.InvariantCulture), metadata["management.port"]);
        Assert.True(metadata.Remove("management.port"));
        Assert.Equal(
            new Dictionary<string, string?> { ["team"] = "payments", ["tier"] = "gold", ["zone"] = "z1", ["management.context-path"] = "/actuator" },
            metadata);
        Assert.Equal(JsonValueKind.String, instance.GetProperty("lastUpdatedTimestamp").ValueKind);
        Assert.Equal(stamp, instance.GetProperty("lastUpdatedTimestamp").GetString());
        Assert.Equal(stamp, instance.GetProperty("lastDirtyTimestamp").GetString());
    }

    [Fact]
    public async Task Register_WithARenewIntervalOf10s_AsksForALeaseOf30s()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        environment["EUREKA_RENEW_INTERVAL"] = "10s";
        await using var agent = await RegisteredAgent.StartAsync(environment);

        await Eventually.TrueAsync(() => eureka.RequestsFor("POST").Count > 0, "the agent registered");
        using var document = JsonDocument.Parse(eureka.RequestsFor("POST")[0].Body);
        var lease = document.RootElement.GetProperty("instance").GetProperty("leaseInfo");
        Assert.Equal(10, lease.GetProperty("renewalIntervalInSecs").GetInt32());
        Assert.Equal(30, lease.GetProperty("durationInSecs").GetInt32());
    }

    [Fact]
    public async Task Register_WithPreferIp_RegistersTheIpAsHostName_ButKeepsTheHostInTheInstanceId()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        environment["EUREKA_PREFER_IP"] = "true";
        await using var agent = await RegisteredAgent.StartAsync(environment);

        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", "host-a:orders:8080") is not null, "the agent registered");
        var instance = eureka.Instance("ORDERS", "host-a:orders:8080")!;
        Assert.Equal("10.0.0.5", instance.HostName);
        Assert.Equal("http://10.0.0.5:8080/", instance.HomePageUrl);
    }
}

using Sidecar.Actuator;
using Sidecar.Health;

namespace Sidecar.Tests.Actuator;

/// <summary>The agent's health in Spring Boot's terms: component statuses, the aggregate and its HTTP status (docs/actuator.md#health).</summary>
[Trait("Category", "Unit")]
public sealed class ActuatorHealthTests
{
    public static TheoryData<string[], string> Aggregations => new()
    {
        { [], "UNKNOWN" },
        { ["UP"], "UP" },
        { ["UP", "UNKNOWN"], "UP" },
        { ["UNKNOWN", "UNKNOWN"], "UNKNOWN" },
        { ["UP", "OUT_OF_SERVICE"], "OUT_OF_SERVICE" },
        { ["OUT_OF_SERVICE", "DOWN", "UP"], "DOWN" },
        { ["STARTING", "UP"], "UP" }, // a status Spring's order does not know is left out
    };

    [Theory]
    [MemberData(nameof(Aggregations))]
    public void Aggregate_IsSpringBootsOrder(string[] statuses, string expected) =>
        Assert.Equal(expected, ActuatorHealth.Aggregate(statuses));

    [Theory]
    [InlineData("UP", 200)]
    [InlineData("UNKNOWN", 200)]
    [InlineData("DOWN", 503)]
    [InlineData("OUT_OF_SERVICE", 503)]
    public void HttpStatus_Is503ForDownAndOutOfService(string status, int expected) =>
        Assert.Equal(expected, ActuatorHealth.HttpStatus(status));

    [Theory]
    [InlineData("UP", "UP")]
    [InlineData("DOWN", "DOWN")]
    [InlineData("OUT_OF_SERVICE", "OUT_OF_SERVICE")]
    [InlineData("STARTING", "OUT_OF_SERVICE")]
    [InlineData("UNKNOWN", "UNKNOWN")]
    public void AppStatus_MapsEurekasStatus(string eureka, string expected) =>
        Assert.Equal(expected, ActuatorHealth.AppStatus(eureka));

    public static TheoryData<string, bool, bool, bool, string, int> Reports => new()
    {
        // app status, registration ready, registration required, ready, aggregate, HTTP status
        { "UP", true, true, true, "UP", 200 },
        { "DOWN", true, true, false, "DOWN", 503 },
        { "STARTING", true, true, false, "OUT_OF_SERVICE", 503 },
        { "UP", false, true, false, "OUT_OF_SERVICE", 503 },
        { "UP", false, false, true, "UP", 200 }, // SIDECAR_READINESS left registration out: it does not count
        { "OUT_OF_SERVICE", true, true, false, "OUT_OF_SERVICE", 503 },
    };

    [Theory]
    [MemberData(nameof(Reports))]
    public void Build_GivesTheComponentsAndTheAggregate(string app, bool registrationReady, bool registrationRequired, bool ready, string expected, int http)
    {
        var report = Report(app, ready, new HealthCheckReport("app", app == "UP", app), new HealthCheckReport("registration", registrationReady, "registered", registrationRequired));

        var health = ActuatorHealth.Build(report);

        Assert.Equal(expected, health.Status);
        Assert.Equal(http, health.HttpStatus);
        Assert.Equal(["app", "registration"], health.Components.Keys);
        Assert.Equal(ActuatorHealth.AppStatus(app), health.Components["app"].Status);
        Assert.Equal(ActuatorHealth.CheckStatus(registrationReady, registrationRequired), health.Components["registration"].Status);
        Assert.Contains(new KeyValuePair<string, object?>("status", app), health.Components["app"].Details);
        Assert.Contains(new KeyValuePair<string, object?>("detail", "registered"), health.Components["registration"].Details);
        Assert.Equal(ready ? "UP" : "OUT_OF_SERVICE", ActuatorHealth.Readiness(report).Status);
        Assert.Equal("UP", ActuatorHealth.Liveness().Status);
    }

    [Fact]
    public void Json_V3SaysComponents_V2SaysDetails_AndComponentsAreSorted()
    {
        var health = ActuatorHealth.Build(Report("UP", true, new HealthCheckReport("registration", true, "ok"), new HealthCheckReport("app", true, "UP"), new HealthCheckReport("config", true, "file: a.yml")));

        var v3 = System.Text.Encoding.UTF8.GetString(ActuatorJson.Health(health, ApiVersion.V3));
        var v2 = System.Text.Encoding.UTF8.GetString(ActuatorJson.Health(health, ApiVersion.V2));

        Assert.StartsWith("""{"status":"UP","components":{"app":{"status":"UP","details":{"status":"UP"}},"config":""", v3, StringComparison.Ordinal);
        Assert.StartsWith("""{"status":"UP","details":{"app":""", v2, StringComparison.Ordinal);
        Assert.Equal("""{"status":"UP"}""", System.Text.Encoding.UTF8.GetString(ActuatorJson.Health(ActuatorHealth.Liveness(), ApiVersion.V3)));
    }

    private static HealthReport Report(string status, bool ready, params HealthCheckReport[] checks) =>
        new(status, DateTimeOffset.UnixEpoch, null, null, null, null, 0, "registered", ready, checks, "1.0.0", "abc");
}

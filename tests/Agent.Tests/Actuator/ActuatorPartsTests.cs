using System.Text;
using Microsoft.Extensions.Configuration;
using Serilog.Events;
using Sidecar.Actuator;
using Sidecar.Configuration;
using Sidecar.Registration;

namespace Sidecar.Tests.Actuator;

/// <summary>The actuator's small parts with no I/O: links, the public listener's claims, loggers, env masking, info, Basic auth, registration.</summary>
[Trait("Category", "Unit")]
public sealed class ActuatorPartsTests
{
    private static readonly HashSet<ActuatorEndpoint> Default = [ActuatorEndpoint.Health, ActuatorEndpoint.Info];

    [Fact]
    public void Links_AreSelfThenEachOperationOfTheExposedEndpoints_TemplatedWhenTheyTakeAVariable()
    {
        var links = ActuatorLinks.Resolve("http://host-a:8079/actuator/", Default);

        Assert.Equal(["self", "health", "health-path", "info"], links.Select(l => l.Name));
        Assert.Equal("http://host-a:8079/actuator", links[0].Href);
        Assert.Equal("http://host-a:8079/actuator/health/{*path}", links[2].Href);
        Assert.Equal([false, false, true, false], links.Select(l => l.Templated));
    }

    [Fact]
    public void Links_OfEveryEndpoint()
    {
        var links = ActuatorLinks.Resolve("http://h/actuator", new HashSet<ActuatorEndpoint>(Enum.GetValues<ActuatorEndpoint>()));

        Assert.Equal(
            ["self", "health", "health-path", "info", "env", "env-toMatch", "loggers", "loggers-name", "metrics", "metrics-requiredMetricName", "prometheus"],
            links.Select(l => l.Name));
        Assert.StartsWith(
            """{"_links":{"self":{"href":"http://h/actuator","templated":false},"health":{"href":"http://h/actuator/health","templated":false},""",
            Encoding.UTF8.GetString(ActuatorJson.Links(links)), StringComparison.Ordinal);
    }

    public static TheoryData<string, string[], string, bool> ClaimCases => new()
    {
        { "/actuator", [], "/actuator", true },
        { "/actuator", [], "/actuator/", true },
        { "/actuator", [], "/actuator/health", true },
        { "/actuator", [], "/actuator/health/liveness", true },
        { "/actuator", [], "/actuator/info", true },
        { "/actuator", [], "/actuator/env", false },
        { "/actuator", [], "/actuator/loggers/ROOT", false },
        { "/actuator", [], "/actuator/prometheus", false },
        { "/actuator", [], "/actuator/threaddump", false },
        { "/actuator", [], "/actuatorx/health", false },
        { "/actuator", [], "/v1/config", false },
        { "/actuator", [], "/v1/invoke/orders/actuator/health", false },
        { "/actuator", ["env"], "/actuator/env/db.url", true },
        { "/actuator", ["loggers"], "/actuator/loggers/ROOT", true },
        { "/actuator", ["*"], "/actuator/prometheus", true },
        { "/manage", [], "/actuator/health", false },
        { "/manage", [], "/manage/health", true },
    };

    [Theory]
    [MemberData(nameof(ClaimCases))]
    public void Claims_ThePublicListenerLetsThroughOnlyTheExposedEndpoints(string basePath, string[] expose, string path, bool claimed)
    {
        var options = Options(new() { ["Actuator:BasePath"] = basePath, ["Actuator:Expose"] = string.Join(',', expose) });

        Assert.Equal(claimed, ActuatorExtensions.Claims(options, path));
    }

    [Theory]
    [InlineData("/actuator/health", true)]
    [InlineData("/actuator/health/", true)]
    [InlineData("/actuator/health/liveness", true)]
    [InlineData("/actuator/healthz", false)]
    [InlineData("/actuator/info", false)]
    [InlineData("/actuator", false)]
    public void IsProbe_TheHealthRoutesOnly(string path, bool probe) =>
        Assert.Equal(probe, ActuatorExtensions.IsProbe(Options([]), path));

    public static TheoryData<string?, bool, LogEventLevel?, string?> LevelRequests => new()
    {
        { "DEBUG", true, LogEventLevel.Debug, null },
        { "debug", true, LogEventLevel.Debug, null },
        { "TRACE", true, LogEventLevel.Verbose, null },
        { "WARN", true, LogEventLevel.Warning, null },
        { "FATAL", true, LogEventLevel.Fatal, null },
        { null, true, LogEventLevel.Error, null }, // null resets to the start level (here ERROR)
        { "OFF", true, null, "'OFF' is not one of FATAL, ERROR, WARN, INFO, DEBUG, TRACE (or null to reset)" },
        { "LOUD", true, null, "'LOUD' is not one of FATAL, ERROR, WARN, INFO, DEBUG, TRACE (or null to reset)" },
        { null, false, null, "the body has no \"configuredLevel\"" },
    };

    [Theory]
    [MemberData(nameof(LevelRequests))]
    public void LoggerLevels_WhatAPostSets(string? configured, bool present, LogEventLevel? level, string? error)
    {
        Assert.Equal((level, error), LoggerLevels.Requested(configured, present, LogEventLevel.Error));
    }

    [Theory]
    [InlineData(LogEventLevel.Verbose, "TRACE")]
    [InlineData(LogEventLevel.Information, "INFO")]
    [InlineData(LogEventLevel.Warning, "WARN")]
    public void LoggerLevels_NamesAreSprings(LogEventLevel level, string name)
    {
        Assert.Equal(name, LoggerLevels.Name(level));
        Assert.True(LoggerLevels.TryRead(name, out var back));
        Assert.Equal(level, back);
    }

    public static TheoryData<string, string, string, string> EnvValues => new()
    {
        { "server.port", "8080", "always", "8080" },
        { "spring.datasource.password", "hunter2", "always", "******" },
        { "app.client-secret", "s", "always", "******" },
        { "stripe.api-key", "sk_live", "always", "******" },
        { "github.TOKEN", "t", "always", "******" },
        { "aws.credentials.id", "AKIA", "always", "******" },
        { "vcap_services", "{}", "always", "******" },
        { "vcap.services.db.uri", "x", "always", "******" },
        { "sun.java.command", "app.jar --pw=x", "always", "******" },
        { "spring.application.json", "{}", "always", "******" },
        { "db.url", "postgres://app:pw@db:5432/orders", "always", "postgres://***@db:5432/orders" },
        { "db.conn", "Server=db;Password=pw;", "always", "Server=db;Password=******;" },
        { "greeting", "hello", "never", "******" },
    };

    [Theory]
    [MemberData(nameof(EnvValues))]
    public void EnvSanitizer_MasksAsSpringBootDoes(string key, string value, string show, string expected) =>
        Assert.Equal(expected, EnvSanitizer.Shown(key, value, Enum.Parse<ShowValues>(show, ignoreCase: true)));

    [Fact]
    public void Info_NestsDottedKeys_SettingsOverTheAppsConfigOverTheAgent()
    {
        var root = InfoDocument.Build(
            [new("app.name", "orders"), new("sidecar.version", "1.0.0")],
            [new("info.build.version", "2.3.0"), new("info.app.name", "from-config"), new("server.port", "8080"), new("info.team", "payments")],
            [new("build.version", "2.3.1"), new("git.commit.id", "abc123")]);

        Assert.Equal(
            """{"app":{"name":"from-config"},"build":{"version":"2.3.1"},"git":{"commit":{"id":"abc123"}},"sidecar":{"version":"1.0.0"},"team":"payments"}""",
            Encoding.UTF8.GetString(ActuatorJson.Info(root)));
    }

    [Fact]
    public void Info_AKeyThatIsAlsoAParent_KeepsItsChildren() =>
        Assert.Equal("""{"build":{"version":"1"}}""", Encoding.UTF8.GetString(ActuatorJson.Info(InfoDocument.Build([], [new("info.build", "x"), new("info.build.version", "1")], []))));

    public static TheoryData<string?, bool> Authorizations => new()
    {
        { "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:s3cr:et")), true },
        { "basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:s3cr:et")), true },
        { "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:wrong")), false },
        { "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("root:s3cr:et")), false },
        { "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("admin")), false },
        { "Basic not-base64!", false },
        { "Bearer abc", false },
        { "", false },
        { null, false },
    };

    [Theory]
    [MemberData(nameof(Authorizations))]
    public void BasicAuth_AllowsOnlyTheRightUserAndPassword(string? header, bool allowed) =>
        Assert.Equal(allowed, BasicAuth.Allows(header, "admin", "s3cr:et"));

    public static TheoryData<Dictionary<string, string?>, string?> OptionErrors => new()
    {
        { new() { ["Actuator:Expose"] = "health,threaddump" }, "SIDECAR_ACTUATOR_EXPOSE (Actuator:Expose): 'threaddump' is not an endpoint the agent serves (health, info, prometheus, loggers, env, metrics, or *)" },
        { new() { ["Actuator:User"] = "admin" }, "SIDECAR_ACTUATOR_PASSWORD (Actuator:Password): required with SIDECAR_ACTUATOR_USER (Basic auth needs both)" },
        { new() { ["Actuator:Password"] = "pw" }, "SIDECAR_ACTUATOR_USER (Actuator:User): required with SIDECAR_ACTUATOR_PASSWORD (Basic auth needs both)" },
        { new() { ["Actuator:User"] = "a:b", ["Actuator:Password"] = "pw" }, "SIDECAR_ACTUATOR_USER (Actuator:User): must not contain ':' (RFC 7617: the user-id of Basic auth cannot)" },
        { new() { ["Actuator:BasePath"] = "actuator" }, "SIDECAR_ACTUATOR_BASE_PATH (Actuator:BasePath): 'actuator' must start with '/', have at least one segment and not end with '/' (example: /actuator)" },
        { new() { ["Actuator:BasePath"] = "/" }, "SIDECAR_ACTUATOR_BASE_PATH (Actuator:BasePath): '/' must start with '/', have at least one segment and not end with '/' (example: /actuator)" },
        { new() { ["Actuator:BasePath"] = "/a/../b" }, "SIDECAR_ACTUATOR_BASE_PATH (Actuator:BasePath): '/a/../b' segments take letters, digits, '-', '_' and '.' only (example: /manage/actuator)" },
        { new() { ["Actuator:BasePath"] = "/v1/actuator" }, "SIDECAR_ACTUATOR_BASE_PATH (Actuator:BasePath): '/v1/actuator' is under the agent's own route /v1" },
        { new() { ["Actuator:ShowValues"] = "sometimes" }, "Actuator:ShowValues: 'sometimes' is not one of always, never" },
        { new() { ["Actuator:Expose"] = "*", ["Actuator:BasePath"] = "/manage/actuator", ["Actuator:User"] = "a", ["Actuator:Password"] = "b" }, null },
    };

    [Theory]
    [MemberData(nameof(OptionErrors))]
    public void Options_ABadSetting_IsOneLineNamingTheVariable(Dictionary<string, string?> settings, string? error)
    {
        var reader = new SettingsReader(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

        ActuatorOptions.Read(reader);

        Assert.Equal(error is null ? [] : [error], reader.Errors);
    }

    [Fact]
    public void Options_Default_ServesHealthAndInfoOnly_WithoutAuth()
    {
        var options = Options([]);

        Assert.Equal(["Health", "Info"], options.Exposed.Select(e => e.ToString()).Order());
        Assert.Equal("/actuator", options.BasePath);
        Assert.False(options.AuthRequired);
        Assert.Equal(ShowValues.Always, options.ShowValues);
    }

    [Fact]
    public void Registration_PointsAtTheActuator_WithSpringBootAdminsMetadata_AndAppMetadataWins()
    {
        var actuator = Options(new() { ["Actuator:BasePath"] = "/manage", ["Actuator:User"] = "admin", ["Actuator:Password"] = "pw" });
        var sidecar = new SidecarOptions { PublicHealthPort = 9001 };
        var app = new AppOptions { Name = "orders", Port = 8080, Metadata = new Dictionary<string, string> { ["management.context-path"] = "/mine" } };

        var instance = new LocalInstance(app, new EurekaOptions(), sidecar, "host-a", "10.0.0.5", ActuatorExtensions.Contribution(actuator, sidecar));

        Assert.Equal("http://host-a:9001/manage/health", instance.HealthCheckUrl);
        Assert.Equal("http://host-a:9001/manage/info", instance.StatusPageUrl);
        Assert.Equal("9001", instance.Metadata["management.port"]);
        Assert.Equal("/mine", instance.Metadata["management.context-path"]); // APP_METADATA is the user's word
        Assert.Equal("admin", instance.Metadata["user.name"]);
        Assert.Equal("pw", instance.Metadata["user.password"]);
        Assert.False(new LocalInstance(app, new EurekaOptions(), sidecar, "host-a", "10.0.0.5", ActuatorExtensions.Contribution(Options([]), sidecar)).Metadata.ContainsKey("user.name"));
    }

    private static ActuatorOptions Options(Dictionary<string, string?> settings)
    {
        var reader = new SettingsReader(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        var options = ActuatorOptions.Read(reader);
        Assert.Empty(reader.Errors);
        return options;
    }
}

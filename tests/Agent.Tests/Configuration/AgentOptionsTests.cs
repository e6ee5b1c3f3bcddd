using System.Collections;
using System.Net;
using Microsoft.Extensions.Configuration;
using Sidecar.Configuration;
using Serilog.Events;

namespace Sidecar.Tests.Configuration;

[Trait("Category", "Unit")]
public sealed class AgentOptionsTests
{
    private static AgentOptions Load(IDictionary<string, string?> environment, params string[] args)
    {
        var builder = new ConfigurationBuilder()
            .AddInMemoryCollection(environment.Where(p => p.Key.Contains("__", StringComparison.Ordinal))
                .Select(p => new KeyValuePair<string, string?>(p.Key.Replace("__", ":", StringComparison.Ordinal), p.Value)))
            .Add(new AgentVariablesConfigurationSource(new Hashtable(environment.ToDictionary(p => p.Key, p => (object?)p.Value))))
            .AddCommandLine(args);
        return AgentOptions.Load(builder.Build());
    }

    private static InvalidConfigurationException LoadFails(Dictionary<string, string?> environment) =>
        Assert.Throws<InvalidConfigurationException>(() => Load(environment));

    [Theory]
    [InlineData("EUREKA_URLS", "http://eureka:S3cret-pw@eureka-1:99999/eureka/")]
    [InlineData("EUREKA_URLS", "http://eureka:S3cret-pw@eureka 1/eureka/")]
    [InlineData("EUREKA_URLS", "ftp://eureka:S3cret-pw@eureka-1/")]
    [InlineData("CONFIG_SERVER_URLS", "http://config:S3cret-pw@config:99999/")]
    [InlineData("ROUTES", "orders=http://user:S3cret-pw@orders:8080")]
    [InlineData("ROUTES", "orders=http://user:S3cret-pw@orders:8080/path")]
    public void Load_WithABadUrlCarryingCredentials_NamesTheVariable_ButNeverEchoesThePassword(string variable, string value)
    {
        var environment = new Dictionary<string, string?> { [variable] = value, ["APP_NAME"] = "orders", ["APP_PORT"] = "8080" };

        var error = LoadFails(environment);

        Assert.Contains(variable, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("S3cret-pw", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_WithNothingSet_UsesTheDocumentedDefaults()
    {
        var options = Load(new Dictionary<string, string?>());

        Assert.Equal(8078, options.Sidecar.Port);
        Assert.Equal(IPAddress.Loopback, options.Sidecar.BindAddress);
        Assert.Null(options.Sidecar.PublicHealthPort);
        Assert.Equal(LogFormat.Text, options.Sidecar.LogFormat);
        Assert.Equal(LogEventLevel.Information, options.Sidecar.LogLevel);
        Assert.Equal(RequestLogMode.Errors, options.Sidecar.RequestLog);
        Assert.Equal(TimeSpan.FromSeconds(65), options.Sidecar.Drain);
        Assert.StartsWith(Path.GetTempPath(), options.Sidecar.DataDir, StringComparison.Ordinal);
        Assert.Null(options.App.Name);
        Assert.Null(options.App.Port);
        Assert.Null(options.Health.Url);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Health.Interval);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Health.Timeout);
        Assert.Equal(3, options.Health.FailureThreshold);
    }

    [Fact]
    public void Load_ReadsEveryAgentAndAppVariable()
    {
        var options = Load(new Dictionary<string, string?>
        {
            ["SIDECAR_PORT"] = "9000",
            ["SIDECAR_BIND_ADDRESS"] = "0.0.0.0",
            ["SIDECAR_PUBLIC_HEALTH_PORT"] = "9001",
            ["SIDECAR_LOG_FORMAT"] = "JSON",
            ["SIDECAR_LOG_LEVEL"] = "debug",
            ["SIDECAR_DRAIN"] = "500ms",
            ["SIDECAR_DATA_DIR"] = "/var/lib/agent",
            ["APP_NAME"] = "orders",
            ["APP_PORT"] = "8080",
            ["APP_HEALTH_INTERVAL"] = "10s",
            ["APP_HEALTH_TIMEOUT"] = "00:00:01",
            ["APP_HEALTH_FAILURE_THRESHOLD"] = "5",
            ["APP_HOST"] = "orders-1.internal",
            ["APP_IP"] = "10.0.0.7",
            ["APP_METADATA"] = "team=payments, tier=gold",
        });

        Assert.Equal(9000, options.Sidecar.Port);
        Assert.Equal(IPAddress.Any, options.Sidecar.BindAddress);
        Assert.Equal(9001, options.Sidecar.PublicHealthPort);
        Assert.Equal(LogFormat.Json, options.Sidecar.LogFormat);
        Assert.Equal(LogEventLevel.Debug, options.Sidecar.LogLevel);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.Sidecar.Drain);
        Assert.Equal("/var/lib/agent", options.Sidecar.DataDir);
        Assert.Equal("orders", options.App.Name);
        Assert.Equal(8080, options.App.Port);
        Assert.Equal(new Uri("http://127.0.0.1:8080/health"), options.Health.Url);
        Assert.Equal(TimeSpan.FromSeconds(10), options.Health.Interval);
        Assert.Equal(TimeSpan.FromSeconds(1), options.Health.Timeout);
        Assert.Equal(5, options.Health.FailureThreshold);
        Assert.Equal("orders-1.internal", options.App.Host);
        Assert.Equal("10.0.0.7", options.App.Ip);
        Assert.Equal(new Dictionary<string, string> { ["team"] = "payments", ["tier"] = "gold" }, options.App.Metadata);
    }

    [Fact]
    public void Load_AcceptsTheSpringAlias_ButTheDocumentedNameWins()
    {
        Assert.Equal("from-alias", Load(new Dictionary<string, string?> { ["SPRING_APPLICATION_NAME"] = "from-alias" }).App.Name);
        Assert.Equal("documented", Load(new Dictionary<string, string?>
        {
            ["SPRING_APPLICATION_NAME"] = "from-alias",
            ["APP_NAME"] = "documented",
        }).App.Name);
    }

    [Fact]
    public void Load_ReadsSectionKeyVariables_AndTheShortVariableWins()
    {
        Assert.Equal(9100, Load(new Dictionary<string, string?> { ["Sidecar__Port"] = "9100" }).Sidecar.Port);
        Assert.Equal(9200, Load(new Dictionary<string, string?> { ["Sidecar__Port"] = "9100", ["SIDECAR_PORT"] = "9200" }).Sidecar.Port);
    }

    [Fact]
    public void Load_TheCommandLineWinsOverEverything()
    {
        var options = Load(new Dictionary<string, string?> { ["SIDECAR_PORT"] = "9200" }, "--Sidecar:Port=9300");
        Assert.Equal(9300, options.Sidecar.Port);
    }

    [Fact]
    public void Load_AnEmptyHealthUrl_TurnsProbingOff()
    {
        var options = Load(new Dictionary<string, string?> { ["APP_PORT"] = "8080", ["APP_HEALTH_URL"] = "" });
        Assert.Null(options.Health.Url);
        Assert.Equal("APP_HEALTH_URL is empty", options.Health.DisabledReason);
    }

    [Fact]
    public void Load_AnExplicitHealthUrl_IsUsedAsIs()
    {
        var options = Load(new Dictionary<string, string?> { ["APP_PORT"] = "8080", ["APP_HEALTH_URL"] = "http://localhost:9999/actuator/health" });
        Assert.Equal(new Uri("http://localhost:9999/actuator/health"), options.Health.Url);
    }

    [Fact]
    public void Load_IgnoresUnknownVariables()
    {
        var options = Load(new Dictionary<string, string?> { ["SIDECAR_COLOUR"] = "blue", ["PATH"] = "/bin", ["APP_PORT"] = "8080" });
        Assert.Equal(8080, options.App.Port);
    }

    [Theory]
    [InlineData("APP_PORT", "abc", "APP_PORT (App:Port): 'abc' is not a port (1-65535)")]
    [InlineData("APP_PORT", "0", "APP_PORT (App:Port): '0' is not a port (1-65535)")]
    [InlineData("SIDECAR_PORT", "70000", "SIDECAR_PORT (Sidecar:Port): '70000' is not a port (1-65535)")]
    [InlineData("APP_HEALTH_INTERVAL", "-1s", "APP_HEALTH_INTERVAL (App:Health:Interval): '-1s' must be between 100ms and 1h")]
    [InlineData("APP_HEALTH_INTERVAL", "5", "APP_HEALTH_INTERVAL (App:Health:Interval): '5' is not a duration (examples: 500ms, 5s, 2m, 00:00:05)")]
    [InlineData("APP_HEALTH_TIMEOUT", "soon", "APP_HEALTH_TIMEOUT (App:Health:Timeout): 'soon' is not a duration (examples: 500ms, 5s, 2m, 00:00:05)")]
    [InlineData("APP_HEALTH_FAILURE_THRESHOLD", "0", "APP_HEALTH_FAILURE_THRESHOLD (App:Health:FailureThreshold): '0' is not a whole number between 1 and 1000")]
    [InlineData("APP_HEALTH_URL", "ftp://x/health", "APP_HEALTH_URL (App:Health:Url): 'ftp://x/health' is not an http:// or https:// URL")]
    [InlineData("SIDECAR_BIND_ADDRESS", "my-laptop", "SIDECAR_BIND_ADDRESS (Sidecar:BindAddress): 'my-laptop' is not an IP address")]
    [InlineData("SIDECAR_LOG_FORMAT", "xml", "SIDECAR_LOG_FORMAT (Sidecar:LogFormat): 'xml' is not one of text, json")]
    [InlineData("Sidecar__RequestLog", "sometimes", "Sidecar:RequestLog: 'sometimes' is not one of all, errors, none")]
    [InlineData("SIDECAR_LOG_LEVEL", "loud", "SIDECAR_LOG_LEVEL (Sidecar:LogLevel): 'loud' is not one of verbose, debug, information, warning, error, fatal")]
    [InlineData("SIDECAR_DRAIN", "1h", "SIDECAR_DRAIN (Sidecar:Drain): '1h' must be between 0s and 10m")]
    [InlineData("APP_METADATA", "team", "APP_METADATA (App:Metadata): 'team' is not a key=value pair")]
    [InlineData("APP_NAME", "orders/../admin", "APP_NAME (App:Name): 'orders/../admin' may hold only letters, digits, '-', '_' and '.'")]
    [InlineData("APP_IP", "10.0.0", "APP_IP (App:Ip): '10.0.0' is not an IP address")]
    public void Load_ABadValue_NamesTheVariableAndWhatIsWrong(string variable, string value, string expected)
    {
        var error = LoadFails(new Dictionary<string, string?> { [variable] = value });
        Assert.Equal([expected], error.Errors);
    }

    [Theory]
    [InlineData("SPRING_APPLICATION_NAME", "a/b", "SPRING_APPLICATION_NAME (App:Name): 'a/b' may hold only letters, digits, '-', '_' and '.'")]
    [InlineData("EUREKA_CLIENT_SERVICEURL_DEFAULTZONE", "ftp://eureka/", "EUREKA_CLIENT_SERVICEURL_DEFAULTZONE (Eureka:Urls): 'ftp://eureka/' is not an http:// or https:// URL")]
    [InlineData("SPRING_CLOUD_CONFIG_URI", "ftp://config/", "SPRING_CLOUD_CONFIG_URI (AppConfig:ServerUrls): 'ftp://config/' is not an http:// or https:// URL")]
    public void Load_ABadValueSetThroughAnAlias_NamesTheAlias(string alias, string value, string expected)
    {
        // APP_NAME and APP_PORT make the Eureka and Config Server settings complete, so the bad value is the only error.
        var environment = new Dictionary<string, string?> { [alias] = value, ["APP_PORT"] = "8080" };
        if (alias != "SPRING_APPLICATION_NAME")
        {
            environment["APP_NAME"] = "orders";
        }

        Assert.Equal([expected], LoadFails(environment).Errors);
    }

    [Fact]
    public void Load_ABadValue_NamesTheVariableItWasReadFrom_WhereverItCameFrom()
    {
        // Through the alias, the profile and label name their Spring variables too (SettingsReader asks the provider).
        var builder = new ConfigurationBuilder().Add(new AgentVariablesConfigurationSource(new Hashtable
        {
            ["SPRING_PROFILES_ACTIVE"] = "prod",
            ["SPRING_CLOUD_CONFIG_LABEL"] = "v2",
            ["CONFIG_LABEL"] = "v3",
        }));
        var reader = new SettingsReader(builder.Build());

        reader.AddError("AppConfig:Profile", "bad");
        reader.AddError("AppConfig:Label", "bad"); // the documented name won: it is the one named
        reader.AddError("App:Name", "missing"); // not set at all: the documented name

        Assert.Equal(["SPRING_PROFILES_ACTIVE (AppConfig:Profile): bad", "CONFIG_LABEL (AppConfig:Label): bad", "APP_NAME (App:Name): missing"], reader.Errors);
    }

    [Fact]
    public void Load_TheCommandLineOverridingAnAlias_IsNamedByTheDocumentedVariable()
    {
        var builder = new ConfigurationBuilder()
            .Add(new AgentVariablesConfigurationSource(new Hashtable { ["SPRING_APPLICATION_NAME"] = "orders" }))
            .AddCommandLine(["--App:Name=a/b"]);

        var error = Assert.Throws<InvalidConfigurationException>(() => AgentOptions.Load(builder.Build()));

        Assert.Equal(["APP_NAME (App:Name): 'a/b' may hold only letters, digits, '-', '_' and '.'"], error.Errors);
    }

    [Theory]
    [InlineData("SIDECAR_LOG_FORMAT", "text,json", "SIDECAR_LOG_FORMAT (Sidecar:LogFormat): 'text,json' is not one of text, json")]
    [InlineData("SIDECAR_LOG_FORMAT", "json, text", "SIDECAR_LOG_FORMAT (Sidecar:LogFormat): 'json, text' is not one of text, json")]
    [InlineData("SIDECAR_LOG_FORMAT", "1", "SIDECAR_LOG_FORMAT (Sidecar:LogFormat): '1' is not one of text, json")]
    [InlineData("SIDECAR_LOG_FORMAT", "+1", "SIDECAR_LOG_FORMAT (Sidecar:LogFormat): '+1' is not one of text, json")]
    [InlineData("SIDECAR_LOG_FORMAT", "-0", "SIDECAR_LOG_FORMAT (Sidecar:LogFormat): '-0' is not one of text, json")]
    [InlineData("Sidecar__RequestLog", "all,errors", "Sidecar:RequestLog: 'all,errors' is not one of all, errors, none")]
    public void Load_AnEnumSetting_TakesOneNameOnly_NoNumbersNorLists(string variable, string value, string expected)
    {
        var error = LoadFails(new Dictionary<string, string?> { [variable] = value });
        Assert.Equal([expected], error.Errors);
    }

    [Fact]
    public void Load_AControlCharacterInABadValue_IsEscaped_SoTheErrorStaysOneLine()
    {
        var error = LoadFails(new Dictionary<string, string?> { ["APP_PORT"] = "abc\nagent: forged\r\u001b[31m" });

        Assert.Equal([@"APP_PORT (App:Port): 'abc\u000aagent: forged\u000d\u001b[31m' is not a port (1-65535)"], error.Errors);
        Assert.DoesNotContain(error.Message, char.IsControl);
    }

    [Theory]
    [InlineData(null, "8078")]
    [InlineData("127.0.0.1", "8078")]
    [InlineData("0.0.0.0", "8078")]
    [InlineData("::", "8078")]
    public void Load_TheAppPortCannotBeTheAgentsOwnPort(string? bindAddress, string appPort)
    {
        var environment = new Dictionary<string, string?> { ["APP_PORT"] = appPort };
        if (bindAddress is not null)
        {
            environment["SIDECAR_BIND_ADDRESS"] = bindAddress;
        }

        Assert.Equal(["APP_PORT (App:Port): '8078' is the agent's own API port (SIDECAR_PORT): the agent would probe itself"], LoadFails(environment).Errors);
    }

    [Fact]
    public void Load_TheAppPortCannotBeThePublicHealthPort()
    {
        var error = LoadFails(new Dictionary<string, string?> { ["APP_PORT"] = "9001", ["SIDECAR_PUBLIC_HEALTH_PORT"] = "9001" });

        Assert.Equal(["APP_PORT (App:Port): '9001' is the agent's public health port (SIDECAR_PUBLIC_HEALTH_PORT): the agent would probe itself"], error.Errors);
    }

    [Fact]
    public void Load_TheAppPortMayEqualTheAgentPort_OnAnotherAddressThanLoopback()
    {
        // The API on 10.0.0.7:8078 and the app on 127.0.0.1:8078 are two sockets: the probe reaches the app.
        var options = Load(new Dictionary<string, string?> { ["APP_PORT"] = "8078", ["SIDECAR_BIND_ADDRESS"] = "10.0.0.7" });

        Assert.Equal(8078, options.App.Port);
    }

    [Fact]
    public void Load_CollectsEveryError()
    {
        var error = LoadFails(new Dictionary<string, string?> { ["APP_PORT"] = "abc", ["SIDECAR_PORT"] = "70000", ["APP_HEALTH_INTERVAL"] = "-1s" });
        Assert.Equal(3, error.Errors.Count);
        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith("invalid configuration: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ThePublicHealthPortCannotBeTheApiPort()
    {
        var error = LoadFails(new Dictionary<string, string?> { ["SIDECAR_PUBLIC_HEALTH_PORT"] = "8078" });
        Assert.Contains("SIDECAR_PUBLIC_HEALTH_PORT", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Variables_AreUniqueAndEveryAliasMapsOnce()
    {
        var names = AgentVariables.All.SelectMany(v => v.Aliases.Prepend(v.Name)).ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(AgentVariables.All.Count, AgentVariables.All.Select(v => v.Key).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.True(AgentVariables.IsKnown("SPRING_APPLICATION_NAME"));
        Assert.False(AgentVariables.IsKnown("SIDECAR_COLOUR"));
    }
}

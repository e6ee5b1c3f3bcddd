using System.Collections;
using Microsoft.Extensions.Configuration;
using Sidecar.AppConfig;
using Sidecar.Configuration;

namespace Sidecar.Tests.AppConfig;

[Trait("Category", "Unit")]
public sealed class AppConfigOptionsTests
{
    private static AppConfigOptions Load(Dictionary<string, string?> environment)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(environment.Where(p => p.Key.Contains("__", StringComparison.Ordinal))
                .Select(p => new KeyValuePair<string, string?>(p.Key.Replace("__", ":", StringComparison.Ordinal), p.Value)))
            .Add(new AgentVariablesConfigurationSource(new Hashtable(environment.ToDictionary(p => p.Key, p => (object?)p.Value))))
            .Build();
        return AgentOptions.Load(configuration).AppConfig;
    }

    private static string LoadFails(Dictionary<string, string?> environment) =>
        Assert.Throws<InvalidConfigurationException>(() => Load(environment)).Message;

    [Fact]
    public void Load_WithNothingSet_UsesTheDocumentedDefaults()
    {
        var options = Load([]);

        Assert.False(options.UsesServer);
        Assert.Equal(["default"], options.Profiles);
        Assert.Empty(options.Labels);
        Assert.Equal(TimeSpan.FromSeconds(30), options.PollInterval);
        Assert.False(options.FailFast);
        Assert.Null(options.File);
        Assert.Equal(TimeSpan.FromSeconds(10), options.Timeout);
        Assert.Equal(MultipleUriStrategy.Always, options.MultipleUriStrategy);
        Assert.Null(options.EncryptKey);
        Assert.Equal("deadbeef", options.EncryptSalt);
        Assert.Equal(new ConfigRetryOptions { MaxAttempts = 6, InitialInterval = TimeSpan.FromMilliseconds(1000), Multiplier = 1.1, MaxInterval = TimeSpan.FromMilliseconds(2000) }, options.Retry);
    }

    [Fact]
    public void Load_ReadsEveryVariableAndSetting()
    {
        var options = Load(new()
        {
            ["CONFIG_SERVER_URLS"] = "http://cfg1:8888, http://u:p@cfg2:8888/config",
            ["APP_NAME"] = "orders",
            ["CONFIG_PROFILE"] = "dev, mysql",
            ["CONFIG_LABEL"] = "feature/x,main",
            ["CONFIG_POLL_INTERVAL"] = "0",
            ["CONFIG_FAIL_FAST"] = "true",
            ["CONFIG_FILE"] = "conf/app.yaml",
            ["AppConfig__Username"] = "user",
            ["AppConfig__Password"] = " spaced ",
            ["AppConfig__Token"] = "tok",
            ["AppConfig__Headers__X-Tenant"] = "blue",
            ["AppConfig__Timeout"] = "3s",
            ["AppConfig__Retry__MaxAttempts"] = "3",
            ["AppConfig__Retry__Multiplier"] = "1.5",
        });

        Assert.Equal(["http://cfg1:8888/", "http://u:p@cfg2:8888/config"], options.ServerUrls.Select(u => u.ToString()));
        Assert.Equal("orders", options.AppName);
        Assert.Equal(["dev", "mysql"], options.Profiles);
        Assert.Equal(["feature/x", "main"], options.Labels);
        Assert.Equal(TimeSpan.Zero, options.PollInterval);
        Assert.True(options.FailFast);
        Assert.Equal(Path.GetFullPath("conf/app.yaml"), options.File);
        Assert.Equal(ConfigFileFormat.Yaml, options.FileFormat);
        Assert.Equal("user", options.Username);
        Assert.Equal("spaced", options.Password); // trimmed, as Spring's ConfigClientProperties does
        Assert.Equal("tok", options.Token);
        Assert.Equal("blue", options.Headers["X-Tenant"]);
        Assert.Equal(TimeSpan.FromSeconds(3), options.Timeout);
        Assert.Equal(3, options.Retry.MaxAttempts);
        Assert.Equal(1.5, options.Retry.Multiplier);
    }

    [Fact]
    public void Load_SpringAliases_AreAccepted()
    {
        var options = Load(new()
        {
            ["SPRING_CLOUD_CONFIG_URI"] = "http://cfg:8888",
            ["SPRING_APPLICATION_NAME"] = "orders",
            ["SPRING_PROFILES_ACTIVE"] = "prod",
            ["SPRING_CLOUD_CONFIG_LABEL"] = "v2",
        });

        Assert.Single(options.ServerUrls);
        Assert.Equal("orders", options.AppName);
        Assert.Equal(["prod"], options.Profiles);
        Assert.Equal(["v2"], options.Labels);
    }

    [Fact]
    public void Load_AServerWithoutAppName_IsAnError()
    {
        Assert.Contains("APP_NAME (App:Name): required when CONFIG_SERVER_URLS is set", LoadFails(new() { ["CONFIG_SERVER_URLS"] = "http://cfg:8888" }), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CONFIG_POLL_INTERVAL", "500ms", "CONFIG_POLL_INTERVAL (AppConfig:PollInterval): '500ms' must be 0 (never) or at least 1s")]
    [InlineData("CONFIG_POLL_INTERVAL", "often", "CONFIG_POLL_INTERVAL (AppConfig:PollInterval): 'often' is not a duration")]
    [InlineData("CONFIG_FILE", "app.ini", "CONFIG_FILE (AppConfig:File): 'app.ini' must end in .json, .yml, .yaml or .properties")]
    [InlineData("CONFIG_FAIL_FAST", "maybe", "CONFIG_FAIL_FAST (AppConfig:FailFast): 'maybe' is not true or false")]
    [InlineData("CONFIG_SERVER_URLS", "ftp://cfg", "CONFIG_SERVER_URLS (AppConfig:ServerUrls): 'ftp://cfg' is not an http:// or https:// URL")]
    [InlineData("AppConfig__Timeout", "0s", "AppConfig:Timeout: '0s' must be between 100ms and 10m")]
    [InlineData("AppConfig__Headers__Bad Name", "x", "AppConfig:Headers:Bad Name: 'Bad Name' is not a valid header name")]
    [InlineData("AppConfig__Retry__Multiplier", "0.5", "AppConfig:Retry:Multiplier: '0.5' is not a number between 1 and 10")]
    [InlineData("ENCRYPT_KEY", "-----BEGIN RSA PRIVATE KEY-----", "ENCRYPT_KEY (AppConfig:EncryptKey): an RSA key is not supported")]
    [InlineData("ENCRYPT_SALT", "salty", "ENCRYPT_SALT (AppConfig:EncryptSalt): 'salty' is not hex")]
    [InlineData("AppConfig__MultipleUriStrategy", "sometimes", "AppConfig:MultipleUriStrategy: 'sometimes' is not always or connection_timeout_only")]
    public void Load_ABadValue_IsReportedByName(string variable, string value, string expected)
    {
        Assert.Contains(expected, LoadFails(new() { [variable] = value, ["APP_NAME"] = "orders" }), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ALWAYS", false)]
    [InlineData("connection_timeout_only", true)]
    [InlineData("CONNECTION-TIMEOUT-ONLY", true)]
    public void Load_TheMultipleUriStrategy_TakesSpringsNames(string value, bool connectionTimeoutOnly)
    {
        var expected = connectionTimeoutOnly ? MultipleUriStrategy.ConnectionTimeoutOnly : MultipleUriStrategy.Always;
        Assert.Equal(expected, Load(new() { ["AppConfig__MultipleUriStrategy"] = value }).MultipleUriStrategy);
    }

    [Theory]
    [InlineData("http://cfg:8888", "secret")]
    [InlineData("http://u:p@cfg:8888", null)]
    public void Load_APasswordAndAnAuthorizationHeader_IsAnError_AsInSpring(string url, string? password)
    {
        var message = LoadFails(new()
        {
            ["CONFIG_SERVER_URLS"] = url,
            ["APP_NAME"] = "orders",
            ["AppConfig__Password"] = password,
            ["AppConfig__Headers__Authorization"] = "Bearer abc",
        });

        Assert.Contains("AppConfig:Headers:Authorization: set either a password", message, StringComparison.Ordinal);
    }
}

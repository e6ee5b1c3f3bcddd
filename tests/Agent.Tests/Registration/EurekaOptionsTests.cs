using System.Collections;
using Microsoft.Extensions.Configuration;
using Sidecar.Configuration;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

public sealed class EurekaOptionsTests
{
    private static AgentOptions Load(Dictionary<string, string?> environment) =>
        AgentOptions.Load(new ConfigurationBuilder()
            .Add(new AgentVariablesConfigurationSource(new Hashtable(environment.ToDictionary(p => p.Key, p => (object?)p.Value))))
            .Build());

    [Trait("Category", "Unit")]
    [Fact]
    public void Load_WithoutEurekaUrls_IsStandalone_WithTheDocumentedDefaults()
    {
        var eureka = Load([]).Eureka;

        Assert.False(eureka.Enabled);
        Assert.Empty(eureka.Urls);
        Assert.Null(eureka.Zone);
        Assert.False(eureka.PreferIp);
        Assert.Null(eureka.InstanceId);
        Assert.Equal(TimeSpan.FromSeconds(30), eureka.RenewInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), eureka.FetchInterval);
        Assert.Equal(90, eureka.LeaseDurationSeconds);
        Assert.Equal(TimeSpan.FromSeconds(5), eureka.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(8), eureka.ReadTimeout);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Load_ReadsEveryEurekaVariable_AndAddsTheTrailingSlash()
    {
        var eureka = Load(new()
        {
            ["APP_NAME"] = "orders",
            ["APP_PORT"] = "8080",
            ["EUREKA_URLS"] = "http://eureka1:8761/eureka, http://user:secret@eureka2:8761/eureka/",
            ["EUREKA_ZONE"] = "z1",
            ["EUREKA_PREFER_IP"] = "true",
            ["EUREKA_INSTANCE_ID"] = "orders-1",
            ["EUREKA_RENEW_INTERVAL"] = "10s",
            ["EUREKA_FETCH_INTERVAL"] = "1m",
        }).Eureka;

        Assert.True(eureka.Enabled);
        Assert.Equal([new Uri("http://eureka1:8761/eureka/"), new Uri("http://user:secret@eureka2:8761/eureka/")], eureka.Urls);
        Assert.Equal("z1", eureka.Zone);
        Assert.True(eureka.PreferIp);
        Assert.Equal("orders-1", eureka.InstanceId);
        Assert.Equal(TimeSpan.FromSeconds(10), eureka.RenewInterval);
        Assert.Equal(30, eureka.LeaseDurationSeconds);
        Assert.Equal(TimeSpan.FromMinutes(1), eureka.FetchInterval);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Load_AcceptsTheSpringAliasForTheUrls()
    {
        var eureka = Load(new() { ["APP_NAME"] = "orders", ["APP_PORT"] = "8080", ["EUREKA_CLIENT_SERVICEURL_DEFAULTZONE"] = "http://eureka:8761/eureka/" }).Eureka;

        Assert.Equal([new Uri("http://eureka:8761/eureka/")], eureka.Urls);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Load_RegisteredMode_RequiresAppNameAndAppPort()
    {
        var error = Assert.Throws<InvalidConfigurationException>(() => Load(new() { ["EUREKA_URLS"] = "http://eureka:8761/eureka/" }));

        Assert.Equal(
            [
                "APP_NAME (App:Name): required when EUREKA_URLS is set (registered mode)",
                "APP_PORT (App:Port): required when EUREKA_URLS is set (registered mode)",
            ],
            error.Errors);
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("EUREKA_URLS", "eureka:8761", "'eureka:8761' is not an http:// or https:// URL")]
    [InlineData("EUREKA_RENEW_INTERVAL", "0s", "'0s' must be between 1s and 10m")]
    [InlineData("EUREKA_PREFER_IP", "maybe", "'maybe' is not true or false")]
    public void Load_ABadValue_NamesTheVariable(string variable, string value, string message)
    {
        var error = Assert.Throws<InvalidConfigurationException>(() => Load(new() { ["APP_NAME"] = "orders", ["APP_PORT"] = "8080", [variable] = value }));

        Assert.Contains(error.Errors, e => e.StartsWith(variable + " (", StringComparison.Ordinal) && e.EndsWith(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheAgent_InRegisteredModeWithoutAppName_ExitsWithCode2()
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string> { ["EUREKA_URLS"] = "http://127.0.0.1:1/eureka/", ["APP_PORT"] = "8080" });

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("agent: invalid configuration: APP_NAME (App:Name): required when EUREKA_URLS is set (registered mode)", agent.Stderr.TrimEnd());
    }
}

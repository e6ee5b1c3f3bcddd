using System.Collections;
using Microsoft.Extensions.Configuration;
using Sidecar.Configuration;
using Sidecar.Forwarding;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

public sealed class ForwardingOptionsTests
{
    private static ForwardingOptions Load(Dictionary<string, string?> environment)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(environment.Where(p => p.Key.Contains("__", StringComparison.Ordinal))
                .Select(p => new KeyValuePair<string, string?>(p.Key.Replace("__", ":", StringComparison.Ordinal), p.Value)))
            .Add(new AgentVariablesConfigurationSource(new Hashtable(environment.ToDictionary(p => p.Key, p => (object?)p.Value))))
            .Build();
        return AgentOptions.Load(configuration).Forwarding;
    }

    private static string LoadFails(Dictionary<string, string?> environment) =>
        Assert.Throws<InvalidConfigurationException>(() => Load(environment)).Message;

    [Trait("Category", "Unit")]
    [Fact]
    public void Defaults_AreTheDocumentedOnes()
    {
        var options = Load([]);
        var policy = options.Defaults;

        Assert.Empty(options.Routes);
        Assert.Null(options.Zone);
        Assert.Equal(TimeSpan.FromSeconds(2), options.ConnectTimeout);
        Assert.True(options.LeanHttp1);
        Assert.Equal(TimeSpan.FromSeconds(30), policy.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(10), policy.TryTimeout);
        Assert.Equal(2, policy.Retries);
        Assert.Equal(TimeSpan.FromMilliseconds(50), policy.RetryBackoff);
        Assert.Equal(20, policy.RetryBudgetPercent);
        Assert.Equal(10, policy.RetryBudgetMinPerSecond);
        Assert.Equal(100L * 1024 * 1024, policy.MaxBodySize);
        Assert.Equal(1024 * 1024, policy.RetryBufferSize);
        Assert.Equal(5, policy.EjectionFailures);
        Assert.Equal(TimeSpan.FromSeconds(30), policy.EjectionTime);
        Assert.Equal(TimeSpan.FromSeconds(300), policy.MaxEjectionTime);
        Assert.Equal(50, policy.MaxEjectionPercent);
        Assert.Equal(TimeSpan.FromMinutes(5), policy.UpgradeIdleTimeout);
        Assert.Equal(TimeSpan.Zero, policy.UpgradeMaxConnectionTime);
    }

    [Fact]
    public void LeanHttp1_CanBeTurnedOff_AndABadValueStopsTheStart()
    {
        Assert.False(Load(new() { ["Forwarding__LeanHttp1"] = "false" }).LeanHttp1);
        Assert.Contains("Forwarding:LeanHttp1", LoadFails(new() { ["Forwarding__LeanHttp1"] = "maybe" }), StringComparison.Ordinal);
    }

    [Fact]
    public void UpgradeLimits_AreReadGloballyAndPerService()
    {
        var options = Load(new()
        {
            ["Forwarding__UpgradeIdleTimeout"] = "90s",
            ["Forwarding__Services__chat__UpgradeMaxConnectionTime"] = "1h",
        });

        Assert.Equal(TimeSpan.FromSeconds(90), options.Defaults.UpgradeIdleTimeout);
        Assert.Equal(TimeSpan.Zero, options.Defaults.UpgradeMaxConnectionTime);
        Assert.Equal(TimeSpan.FromSeconds(90), options.PolicyFor("chat").UpgradeIdleTimeout);
        Assert.Equal(TimeSpan.FromHours(1), options.PolicyFor("chat").UpgradeMaxConnectionTime);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Routes_AreParsed_NamesLowerCased()
    {
        var options = Load(new() { ["ROUTES"] = " Orders = http://10.0.0.1:8080 ; https://orders.example:8443/ , billing=http://billing" });

        Assert.Equal(["billing", "orders"], options.Routes.Keys.Order());
        Assert.Equal([new Uri("http://10.0.0.1:8080"), new Uri("https://orders.example:8443/")], options.Routes["orders"]);
        Assert.Equal(80, options.Routes["billing"][0].Port);
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("orders", "'orders' is not name=http://host:port[;http://host2:port]")]
    [InlineData("=http://a:1", "'=http://a:1' is not name=http://host:port[;http://host2:port]")]
    [InlineData("orders=ftp://a:1", "'ftp://a:1' (service 'orders') is not an http://, https:// or tcp:// URL")]
    [InlineData("orders=http://a:1/api", "'http://a:1/api' (service 'orders') must be scheme://host:port only, without path, query or user info")]
    [InlineData("orders=http://u:p@a:1", "'http://***@a:1' (service 'orders') must be scheme://host:port only, without path, query or user info")]
    [InlineData("or ders=http://a:1", "'or ders' is not a service name (letters, digits, '-', '_' and '.')")]
    [InlineData("orders=", "service 'orders' has no URL")]
    [InlineData("orders=http://a:1,ORDERS=http://b:1", "'orders' is listed twice")]
    [InlineData("orders=http://bad host:80", "'http://bad host:80' (service 'orders') is not an http://, https:// or tcp:// URL")]
    [InlineData("orders=http://a:70000", "'http://a:70000' (service 'orders') is not an http://, https:// or tcp:// URL")]
    [InlineData("self=http://127.0.0.1:8078", "'http://127.0.0.1:8078' (service 'self') is the agent's own API; a route to it would loop")]
    public void BadRoutes_AreRefused_NamingRoutes(string routes, string error)
    {
        var message = LoadFails(new() { ["ROUTES"] = routes });

        Assert.Equal("invalid configuration: ROUTES (Forwarding:Routes): " + error, message);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void GlobalSettings_AndPerServiceOverrides_AreRead()
    {
        var options = Load(new()
        {
            ["EUREKA_ZONE"] = "eu-west-1a",
            ["Forwarding__Timeout"] = "5s",
            ["Forwarding__Retries"] = "1",
            ["Forwarding__MaxBodySize"] = "10MiB",
            ["Forwarding__ConnectTimeout"] = "500ms",
            ["Forwarding__ServiceRetention"] = "30s",
            ["Forwarding__Services__Orders__Timeout"] = "2s",
            ["Forwarding__Services__orders__Retries"] = "0",
            ["Forwarding__Services__billing__EjectionFailures"] = "0",
        });

        Assert.Equal("eu-west-1a", options.Zone);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), options.ServiceRetention);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Defaults.Timeout);
        Assert.Equal(10L * 1024 * 1024, options.Defaults.MaxBodySize);
        var orders = options.PolicyFor("ORDERS");
        Assert.Equal(TimeSpan.FromSeconds(2), orders.Timeout);
        Assert.Equal(0, orders.Retries);
        Assert.Equal(10L * 1024 * 1024, orders.MaxBodySize); // inherited from the global value
        Assert.Equal(0, options.PolicyFor("billing").EjectionFailures);
        Assert.Same(options.Defaults, options.PolicyFor("unlisted"));
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("Forwarding__Timout", "5s", "Forwarding:Timout: unknown setting")]
    [InlineData("Forwarding__Services__orders__Retry", "1", "Forwarding:Services:orders:Retry: unknown setting")]
    [InlineData("Forwarding__Retries", "11", "Forwarding:Retries: '11' is not a whole number between 0 and 10")]
    [InlineData("Forwarding__Services__orders__TryTimeout", "soon", "Forwarding:Services:orders:TryTimeout: 'soon' is not a duration")]
    [InlineData("Forwarding__UpgradeIdleTimeout", "5ms", "Forwarding:UpgradeIdleTimeout: '5ms' must be between 10ms and")]
    [InlineData("Forwarding__Services__chat__UpgradeMaxConnectionTime", "forever", "Forwarding:Services:chat:UpgradeMaxConnectionTime: 'forever' is not a duration")]
    [InlineData("Forwarding__MaxBodySize", "lots", "Forwarding:MaxBodySize: 'lots' is not a size")]
    [InlineData("Forwarding__MaxEjectionTime", "10s", "Forwarding:MaxEjectionTime: '10s' is shorter than Forwarding:EjectionTime (30s)")]
    public void BadForwardingSettings_AreRefused(string key, string value, string error)
    {
        var message = LoadFails(new() { [key] = value });

        Assert.StartsWith("invalid configuration: " + error, message, StringComparison.Ordinal);
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("1048576", 1048576)]
    [InlineData("512KiB", 512 * 1024)]
    [InlineData("100MiB", 100L * 1024 * 1024)]
    [InlineData("2GiB", 2L * 1024 * 1024 * 1024)]
    [InlineData("10MB", 10_000_000)]
    [InlineData("0", 0)]
    public void ByteSizes_AreParsed(string text, long expected)
    {
        Assert.True(ByteSize.TryParse(text, out var bytes));
        Assert.Equal(expected, bytes);
    }

    [Fact]
    public async Task TheAgent_WithBadRoutes_ExitsWithCode2AndOneLineNamingRoutes()
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string> { ["ROUTES"] = "orders=http://ok:1;nope" });

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("agent: invalid configuration: ROUTES (Forwarding:Routes): 'nope' (service 'orders') is not an http://, https:// or tcp:// URL", agent.Stderr.TrimEnd());
    }
}

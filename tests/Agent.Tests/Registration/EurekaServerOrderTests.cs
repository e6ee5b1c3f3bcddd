using Microsoft.Extensions.Configuration;
using Sidecar.Configuration;
using Sidecar.Registration;

namespace Sidecar.Tests.Registration;

/// <summary>Which Eureka server an agent tries first: its own zone, then a per-instance shuffle (Netflix's resolver).</summary>
[Trait("Category", "Unit")]
public sealed class EurekaServerOrderTests
{
    private static readonly Uri[] Three =
    [
        new("http://eureka1:8761/eureka/"),
        new("http://eureka2:8761/eureka/"),
        new("http://eureka3:8761/eureka/"),
    ];

    [Fact]
    public void Resolve_WithoutZones_IsAPermutation_StableForOneInstance()
    {
        var options = new EurekaOptions { Urls = Three };

        var order = EurekaServerOrder.Resolve(options, "10.1.2.3");

        Assert.Equal(Three.Select(u => u.Host).Order(), order.Select(u => u.Host).Order());
        Assert.Equal(order, EurekaServerOrder.Resolve(options, "10.1.2.3"));
    }

    [Fact]
    public void Resolve_AFleetOfAgents_SpreadsEvenlyOverTheServers()
    {
        // 3,000 pod IPs: each server is the first choice of about a third of them (Netflix's randomize is
        // meant to do this; before, every agent started on the first URL and a failover pinned them all).
        var options = new EurekaOptions { Urls = Three };
        var first = new Dictionary<Uri, int>();
        for (var i = 0; i < 3000; i++)
        {
            var ip = $"10.{i / 250 % 250}.{i % 250}.{(i * 7) % 250}";
            var server = EurekaServerOrder.Resolve(options, ip)[0];
            first[server] = first.GetValueOrDefault(server) + 1;
        }

        Assert.Equal(3, first.Count);
        Assert.All(first.Values, count => Assert.InRange(count, 850, 1150));
    }

    [Fact]
    public void Resolve_WithZones_OwnZoneFirst_ThenTheOtherZones()
    {
        // Spring's multi-zone shape: eureka.client.availabilityZones.region=zone1,zone2,zone3 and a serviceUrl per zone.
        var options = new EurekaOptions
        {
            Zone = "zone2",
            AvailabilityZones = ["zone1", "zone2", "zone3"],
            ZoneUrls = new Dictionary<string, IReadOnlyList<Uri>>(StringComparer.OrdinalIgnoreCase)
            {
                ["zone1"] = [new("http://z1-a:8761/eureka/"), new("http://z1-b:8761/eureka/")],
                ["zone2"] = [new("http://z2-a:8761/eureka/"), new("http://z2-b:8761/eureka/")],
                ["zone3"] = [new("http://z3-a:8761/eureka/")],
            },
        };

        foreach (var ip in new[] { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4" })
        {
            var order = EurekaServerOrder.Resolve(options, ip).Select(u => u.Host).ToList();

            Assert.Equal(["z2-a", "z2-b"], order.Take(2).Order());
            Assert.Equal(["z1-a", "z1-b", "z3-a"], order.Skip(2).Order());
        }
    }

    [Fact]
    public void Resolve_WithZones_WithoutEUREKA_ZONE_TheFirstListedZoneIsOwn_AndAZoneWithoutAListUsesTheDefault()
    {
        var options = new EurekaOptions
        {
            Urls = [new("http://default:8761/eureka/")],
            AvailabilityZones = ["zone1", "zone2"],
            ZoneUrls = new Dictionary<string, IReadOnlyList<Uri>>(StringComparer.OrdinalIgnoreCase)
            {
                ["zone1"] = [new("http://z1:8761/eureka/")],
            },
        };

        Assert.Equal(["z1", "default"], EurekaServerOrder.Resolve(options, "10.0.0.1").Select(u => u.Host));
    }

    [Fact]
    public void Load_ZoneKeyedServiceUrls_AsSpringNamesThem()
    {
        var eureka = Load(new()
        {
            ["App:Name"] = "orders",
            ["App:Port"] = "8080",
            ["Eureka:Zone"] = "zone2",
            ["Eureka:AvailabilityZones"] = "zone1, zone2",
            ["Eureka:ServiceUrl:zone1"] = "http://z1-a:8761/eureka,http://z1-b:8761/eureka/",
            ["Eureka:ServiceUrl:zone2"] = "http://z2:8761/eureka",
        });

        Assert.True(eureka.Enabled);
        Assert.Equal(["zone1", "zone2"], eureka.AvailabilityZones);
        Assert.Equal([new Uri("http://z1-a:8761/eureka/"), new Uri("http://z1-b:8761/eureka/")], eureka.ZoneUrls["zone1"]);
        Assert.Equal([new Uri("http://z2:8761/eureka/")], eureka.ZoneUrls["ZONE2"]);
        Assert.Equal(TimeSpan.FromMinutes(20), eureka.SessionReconnectInterval);
    }

    [Fact]
    public void Load_ZoneUrlsWithoutAvailabilityZones_IsAnError()
    {
        var error = Assert.Throws<InvalidConfigurationException>(() => Load(new()
        {
            ["App:Name"] = "orders",
            ["App:Port"] = "8080",
            ["Eureka:ServiceUrl:zone1"] = "http://z1:8761/eureka/",
        }));

        Assert.Contains("Eureka:AvailabilityZones: required with Eureka:ServiceUrl:zone1", error.Message, StringComparison.Ordinal);
    }

    private static EurekaOptions Load(Dictionary<string, string?> settings) =>
        AgentOptions.Load(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()).Eureka;
}

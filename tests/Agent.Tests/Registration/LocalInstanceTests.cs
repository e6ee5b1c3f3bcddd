using System.Net;
using Sidecar.Configuration;
using Sidecar.Health;
using Sidecar.Registration;

namespace Sidecar.Tests.Registration;

[Trait("Category", "Unit")]
public sealed class LocalInstanceTests
{
    private static readonly AppOptions App = new() { Name = "orders", Port = 8080 };

    [Fact]
    public void InstanceId_DefaultsToHostAppPort()
    {
        var instance = new LocalInstance(App, new EurekaOptions(), new SidecarOptions(), "host-a", "10.0.0.5");

        Assert.Equal("host-a:orders:8080", instance.InstanceId);
        Assert.Equal("ORDERS", instance.EurekaAppName);
    }

    [Fact]
    public void InstanceId_IsTakenFromEurekaInstanceId()
    {
        var instance = new LocalInstance(App, new EurekaOptions { InstanceId = "orders-1" }, new SidecarOptions(), "host-a", "10.0.0.5");

        Assert.Equal("orders-1", instance.InstanceId);
    }

    [Fact]
    public void StatusAndHealthUrls_PointAtTheAgentsPort()
    {
        var instance = new LocalInstance(App, new EurekaOptions(), new SidecarOptions { Port = 8078 }, "host-a", "10.0.0.5");

        Assert.Equal("http://host-a:8078/status", instance.StatusPageUrl);
        Assert.Equal("http://host-a:8078/healthcheck", instance.HealthCheckUrl);
        Assert.Equal("http://host-a:8080/", instance.HomePageUrl);
    }

    [Fact]
    public void StatusAndHealthUrls_PointAtThePublicHealthListener_WhenThereIsOne()
    {
        var instance = new LocalInstance(App, new EurekaOptions(), new SidecarOptions { Port = 8078, PublicHealthPort = 9001 }, "host-a", "10.0.0.5");

        Assert.Equal("http://host-a:9001/status", instance.StatusPageUrl);
        Assert.Equal("http://host-a:9001/healthcheck", instance.HealthCheckUrl);
    }

    [Fact]
    public void PreferIp_RegistersTheIpEverywhere()
    {
        var instance = new LocalInstance(App, new EurekaOptions { PreferIp = true }, new SidecarOptions { Port = 8078 }, "host-a", "10.0.0.5");
        var info = instance.ToInstanceInfo(InstanceStatus.Up, InstanceStatus.Unknown, 1);

        Assert.Equal("10.0.0.5", info.HostName);
        Assert.Equal("10.0.0.5", info.IpAddr);
        Assert.Equal("http://10.0.0.5:8078/healthcheck", info.HealthCheckUrl);
    }

    [Fact]
    public void Zone_IsRegisteredAsMetadataZone_AndWinsOverAppMetadata()
    {
        var app = App with { Metadata = new Dictionary<string, string> { ["zone"] = "from-metadata", ["team"] = "payments" } };
        var instance = new LocalInstance(app, new EurekaOptions { Zone = "z1" }, new SidecarOptions(), "host-a", "10.0.0.5");

        Assert.Equal(new Dictionary<string, string> { ["zone"] = "z1", ["team"] = "payments" }, instance.Metadata);
    }

    [Fact]
    public void Detection_PicksTheFirstNonLoopbackIPv4OfAnInterfaceThatIsUp()
    {
        InterfaceAddresses[] interfaces =
        [
            new(true, true, [IPAddress.Loopback]),
            new(false, false, [IPAddress.Parse("10.9.9.9")]),
            new(true, false, [IPAddress.Parse("fe80::1"), IPAddress.Parse("169.254.3.4")]),
            new(true, false, [IPAddress.Parse("fd00::5"), IPAddress.Parse("10.0.0.5"), IPAddress.Parse("10.0.0.6")]),
        ];

        Assert.Equal(IPAddress.Parse("10.0.0.5"), HostIdentity.FirstNonLoopbackIPv4(interfaces));
    }

    [Fact]
    public void Detection_FallsBackToALinkLocalAddress_AndToNothing()
    {
        Assert.Equal(IPAddress.Parse("169.254.3.4"), HostIdentity.FirstNonLoopbackIPv4([new(true, false, [IPAddress.Parse("169.254.3.4")])]));
        Assert.Null(HostIdentity.FirstNonLoopbackIPv4([new(true, true, [IPAddress.Loopback])]));
    }

    [Fact]
    public void Detection_OnThisMachine_GivesAnIPv4()
    {
        Assert.Equal(System.Net.Sockets.AddressFamily.InterNetwork, HostIdentity.DetectIPv4().AddressFamily);
        Assert.False(string.IsNullOrWhiteSpace(HostIdentity.DetectHostName()));
    }
}

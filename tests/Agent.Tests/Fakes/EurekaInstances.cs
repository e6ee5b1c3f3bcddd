using Sidecar.Discovery;
using Sidecar.Health;

namespace Sidecar.Tests.Fakes;

/// <summary>Instances to put into a fake Eureka directly, as other services would have registered them.</summary>
internal static class EurekaInstances
{
    public static EurekaInstanceInfo Create(
        string app,
        string id,
        string host,
        string ip,
        int port,
        InstanceStatus status = InstanceStatus.Up,
        string? zone = null,
        string? vip = null,
        bool secureOnly = false) => new()
        {
            InstanceId = id,
            App = app.ToUpperInvariant(),
            HostName = host,
            IpAddr = ip,
            Status = status,
            Port = port,
            PortEnabled = !secureOnly,
            SecurePort = secureOnly ? port : 443,
            SecurePortEnabled = secureOnly,
            VipAddress = vip ?? app,
            SecureVipAddress = vip ?? app,
            Metadata = zone is null ? EurekaInstanceInfo.EmptyMetadata : new Dictionary<string, string> { ["zone"] = zone },
            LastDirtyTimestamp = 1,
        };

    public static void Seed(this FakeEureka eureka, EurekaInstanceInfo instance)
    {
        var error = eureka.Registry.Register(instance.App, instance);
        Assert.Null(error);
    }
}

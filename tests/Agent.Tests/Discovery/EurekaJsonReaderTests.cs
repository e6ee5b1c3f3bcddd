using System.Text;
using System.Text.Json;
using Sidecar.Discovery;
using Sidecar.Health;

namespace Sidecar.Tests.Discovery;

/// <summary>Every JSON variant real servers emit (docs/eureka.md#registry-answers).</summary>
[Trait("Category", "Unit")]
public sealed class EurekaJsonReaderTests
{
    private static EurekaApplications Read(string json, List<string>? dropped = null) =>
        EurekaJsonReader.ReadApplications(Encoding.UTF8.GetBytes(json), dropped);

    [Fact]
    public void ReadsOneInstanceAsNetflixAnswersGetAppsAppId()
    {
        // InstanceResource's answer, as Netflix's Jackson codec writes it: the instance under "instance", no applications.
        var instance = EurekaJsonReader.ReadInstanceBody(Encoding.UTF8.GetBytes("""
            {"instance":{"instanceId":"host-a:orders:8080","hostName":"host-a","app":"ORDERS","ipAddr":"10.0.0.5",
              "status":"OUT_OF_SERVICE","overriddenStatus":"OUT_OF_SERVICE","port":{"$":8080,"@enabled":"true"},
              "securePort":{"$":443,"@enabled":"false"},"countryId":1,
              "dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
              "leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,"registrationTimestamp":1712957014900,
                "lastRenewalTimestamp":1712957194910,"evictionTimestamp":0,"serviceUpTimestamp":1712957014870},
              "metadata":{"@class":"java.util.Collections$EmptyMap"},"vipAddress":"orders",
              "isCoordinatingDiscoveryServer":"false","lastUpdatedTimestamp":"1712957200000","lastDirtyTimestamp":"1712957199000",
              "actionType":"MODIFIED"}}
            """));

        Assert.Equal("host-a:orders:8080", instance.InstanceId);
        Assert.Equal("ORDERS", instance.App);
        Assert.Equal(InstanceStatus.OutOfService, instance.Status);
        Assert.Equal(InstanceStatus.OutOfService, instance.OverriddenStatus);
        Assert.Equal(8080, instance.Port);
        Assert.Equal(1712957199000, instance.LastDirtyTimestamp);
        Assert.Equal(1712957194910, instance.LeaseInfo.LastRenewalTimestamp);
        Assert.Equal(EurekaActionType.Modified, instance.ActionType);
        Assert.Empty(instance.Metadata);
    }

    [Fact]
    public void AnApplicationsAnswer_IsNoInstanceAnswer()
    {
        // What the dev registry wrongly answered once for GET apps/{APP}/{id}: refused, not read as an empty instance.
        Assert.Throws<JsonException>(() => EurekaJsonReader.ReadInstanceBody(Encoding.UTF8.GetBytes(
            """{"applications":{"versions__delta":"","apps__hashcode":"","application":{"name":"ORDERS","instance":{"instanceId":"a"}}}}""")));
    }

    [Fact]
    public void ReadsTheDocumentedRegistryAnswer()
    {
        var applications = Read("""
            {"applications":{"versions__delta":"1","apps__hashcode":"UP_1_","application":[
              {"name":"ORDERS","instance":[{"instanceId":"host-a:orders:8080","app":"ORDERS","hostName":"host-a","ipAddr":"10.0.0.5",
                "status":"UP","overriddenstatus":"UNKNOWN","port":{"$":8080,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"},
                "homePageUrl":"http://host-a:8080/","statusPageUrl":"http://host-a:8078/status","healthCheckUrl":"http://host-a:8078/healthcheck",
                "vipAddress":"orders","secureVipAddress":"orders",
                "dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
                "leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,"registrationTimestamp":1712957014900,
                  "lastRenewalTimestamp":1712957194910,"evictionTimestamp":0,"serviceUpTimestamp":1712957014870},
                "metadata":{"zone":"z1"},"countryId":1,"isCoordinatingDiscoveryServer":"false","actionType":"ADDED",
                "lastUpdatedTimestamp":"1712957014863","lastDirtyTimestamp":"1712957014863"}]}]}}
            """);

        Assert.Equal("1", applications.VersionsDelta);
        Assert.Equal("UP_1_", applications.AppsHashCode);
        var app = Assert.Single(applications.Applications);
        Assert.Equal("ORDERS", app.Name);
        var instance = Assert.Single(app.Instances);
        Assert.Equal("host-a:orders:8080", instance.InstanceId);
        Assert.Equal("ORDERS", instance.App);
        Assert.Equal("host-a", instance.HostName);
        Assert.Equal("10.0.0.5", instance.IpAddr);
        Assert.Equal(InstanceStatus.Up, instance.Status);
        Assert.Equal(InstanceStatus.Unknown, instance.OverriddenStatus);
        Assert.Equal((8080, true), (instance.Port, instance.PortEnabled));
        Assert.Equal((443, false), (instance.SecurePort, instance.SecurePortEnabled));
        Assert.Equal("orders", instance.VipAddress);
        Assert.Equal("MyOwn", instance.DataCenterName);
        Assert.Equal(90, instance.LeaseInfo.DurationInSecs);
        Assert.Equal(1712957194910, instance.LeaseInfo.LastRenewalTimestamp);
        Assert.Equal("z1", instance.Metadata["zone"]);
        Assert.Equal(EurekaActionType.Added, instance.ActionType);
        Assert.Equal(1712957014863, instance.LastDirtyTimestamp);
    }

    [Fact]
    public void AcceptsSingleObjectsInsteadOfArrays()
    {
        var applications = Read("""
            {"applications":{"versions__delta":"1","apps__hashcode":"UP_1_","application":
              {"name":"ORDERS","instance":{"instanceId":"a","app":"ORDERS","hostName":"host-a","ipAddr":"10.0.0.5","status":"UP"}}}}
            """);

        var instance = Assert.Single(Assert.Single(applications.Applications).Instances);
        Assert.Equal("a", instance.InstanceId);
    }

    [Theory]
    [InlineData("overriddenStatus")]
    [InlineData("overriddenstatus")]
    public void AcceptsBothSpellingsOfTheOverriddenStatus(string key)
    {
        var instance = ReadOne($$"""{"instanceId":"a","app":"ORDERS","hostName":"h","ipAddr":"10.0.0.5","status":"OUT_OF_SERVICE","{{key}}":"OUT_OF_SERVICE"}""");

        Assert.Equal(InstanceStatus.OutOfService, instance.OverriddenStatus);
    }

    [Theory]
    [InlineData("""{"$":8080,"@enabled":"true"}""", 8080, true)]
    [InlineData("""{"$":"8080","@enabled":"true"}""", 8080, true)]
    [InlineData("""{"$":8080,"@enabled":true}""", 8080, true)]
    [InlineData("""{"$":8080,"@enabled":false}""", 8080, false)]
    [InlineData("""{"$":"9090"}""", 9090, true)]
    [InlineData("8081", 8081, true)]
    [InlineData("\"8082\"", 8082, true)]
    public void AcceptsPortsAsNumbersOrStrings_AndEnabledAsStringOrBool(string port, int expected, bool enabled)
    {
        var instance = ReadOne($$"""{"instanceId":"a","app":"ORDERS","hostName":"h","ipAddr":"10.0.0.5","port":{{port}}}""");

        Assert.Equal((expected, enabled), (instance.Port, instance.PortEnabled));
    }

    [Fact]
    public void AcceptsTimestampsAsNumbersOrStrings()
    {
        var instance = ReadOne("""
            {"instanceId":"a","app":"ORDERS","hostName":"h","ipAddr":"10.0.0.5","lastDirtyTimestamp":1712957014863,"lastUpdatedTimestamp":"1712957014864",
             "leaseInfo":{"renewalIntervalInSecs":"30","durationInSecs":"90","lastRenewalTimestamp":"1712957194910"},"countryId":"1"}
            """);

        Assert.Equal(1712957014863, instance.LastDirtyTimestamp);
        Assert.Equal(1712957014864, instance.LastUpdatedTimestamp);
        Assert.Equal(90, instance.LeaseInfo.DurationInSecs);
        Assert.Equal(1712957194910, instance.LeaseInfo.LastRenewalTimestamp);
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"@class":"java.util.Collections$EmptyMap"}""")]
    public void ReadsBothFormsOfEmptyMetadata(string metadata)
    {
        var instance = ReadOne($$"""{"instanceId":"a","app":"ORDERS","hostName":"h","ipAddr":"10.0.0.5","metadata":{{metadata}}}""");

        Assert.Empty(instance.Metadata);
    }

    [Fact]
    public void ReadsTheEmptyRegistry_AndAnAbsentApplicationList()
    {
        Assert.Empty(Read("""{"applications":{"versions__delta":"1","apps__hashcode":"","application":[]}}""").Applications);
        Assert.Empty(Read("""{"applications":{"versions__delta":1,"apps__hashcode":""}}""").Applications);
    }

    [Fact]
    public void IgnoresUnknownFields_AndDropsInstancesWithoutAppHostOrIp()
    {
        var dropped = new List<string>();
        var applications = Read("""
            {"applications":{"versions__delta":"1","apps__hashcode":"UP_4_","future":{"x":[1,2]},"application":[{"name":"ORDERS","sbom":true,"instance":[
              {"instanceId":"ok","app":"ORDERS","hostName":"h","ipAddr":"10.0.0.5","newField":{"deep":[{}]}},
              {"instanceId":"no-app","hostName":"h","ipAddr":"10.0.0.6"},
              {"instanceId":"no-host","app":"ORDERS","ipAddr":"10.0.0.7"},
              {"instanceId":"no-ip","app":"ORDERS","hostName":"h"}]}]}}
            """, dropped);

        Assert.Equal("ok", Assert.Single(Assert.Single(applications.Applications).Instances).InstanceId);
        Assert.Equal(["ORDERS/no-app", "ORDERS/no-host", "ORDERS/no-ip"], dropped);
    }

    [Fact]
    public void AnInstanceWithoutInstanceId_IsKnownByItsHostName()
    {
        Assert.Equal("host-a", ReadOne("""{"app":"ORDERS","hostName":"host-a","ipAddr":"10.0.0.5"}""").InstanceId);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"application":[]}""")]
    [InlineData("""[]""")]
    public void RejectsWhatIsNotARegistry(string json)
    {
        Assert.ThrowsAny<JsonException>(() => Read(json));
    }

    [Fact]
    public void WhatTheWriterWrites_TheReaderReads_InBothListForms()
    {
        var instance = new EurekaInstanceInfo
        {
            InstanceId = "host-a:orders:8080",
            App = "ORDERS",
            HostName = "host-a",
            IpAddr = "10.0.0.5",
            Status = InstanceStatus.Down,
            OverriddenStatus = InstanceStatus.OutOfService,
            Port = 8080,
            SecurePort = 8443,
            SecurePortEnabled = true,
            VipAddress = "orders",
            Metadata = new Dictionary<string, string> { ["zone"] = "z1" },
            LastDirtyTimestamp = 42,
            ActionType = EurekaActionType.Modified,
        };
        var applications = new EurekaApplications("7", "DOWN_1_", [new EurekaApplication("ORDERS", [instance])]);

        foreach (var singleObjects in new[] { false, true })
        {
            var read = EurekaJsonReader.ReadApplications(EurekaJsonWriter.Applications(applications, singleObjects));
            var back = Assert.Single(Assert.Single(read.Applications).Instances);
            Assert.Equal(instance with { Metadata = back.Metadata, LeaseInfo = back.LeaseInfo }, back);
            Assert.Equal("z1", back.Metadata["zone"]);
            Assert.Equal("DOWN_1_", read.AppsHashCode);
        }
    }

    private static EurekaInstanceInfo ReadOne(string instance) =>
        Assert.Single(Assert.Single(Read($$$"""{"applications":{"application":[{"name":"ORDERS","instance":[{{{instance}}}]}]}}""").Applications).Instances);
}

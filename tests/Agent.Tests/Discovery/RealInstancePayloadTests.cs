using System.Text;
using System.Text.Json;
using Sidecar.Discovery;

namespace Sidecar.Tests.Discovery;

/// <summary>Instances as real clients register them, read as Spring Cloud reads them: the URI to call and the zone.</summary>
[Trait("Category", "Unit")]
public sealed class RealInstancePayloadTests
{
    // A Spring Boot app with eureka.instance.securePortEnabled=true (the plain port stays enabled, Spring's default),
    // as GET /eureka/apps/ answers for it.
    private const string SpringSecureApp = """
        {"applications":{"versions__delta":"1","apps__hashcode":"UP_1_","application":[{"name":"BILLING","instance":[{
          "instanceId":"billing-7d9f:billing:8080","hostName":"billing-7d9f","app":"BILLING","ipAddr":"10.1.4.7",
          "status":"UP","overriddenStatus":"UNKNOWN",
          "port":{"$":8080,"@enabled":"true"},"securePort":{"$":8443,"@enabled":"true"},"countryId":1,
          "dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
          "leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,"registrationTimestamp":1712957014900,"lastRenewalTimestamp":1712957194910,"evictionTimestamp":0,"serviceUpTimestamp":1712957014870},
          "metadata":{"management.port":"8080"},
          "homePageUrl":"http://billing-7d9f:8080/","statusPageUrl":"http://billing-7d9f:8080/actuator/info",
          "healthCheckUrl":"http://billing-7d9f:8080/actuator/health","secureHealthCheckUrl":"https://billing-7d9f:8443/actuator/health",
          "vipAddress":"billing","secureVipAddress":"billing","isCoordinatingDiscoveryServer":"false",
          "lastUpdatedTimestamp":"1712957014900","lastDirtyTimestamp":"1712957014863","actionType":"ADDED"}]}]}}
        """;

    // A Node service registered by eureka-js-client on EC2 (its README's AWS configuration): AmazonInfo with
    // the metadata the client fills from the instance metadata service, no instanceId and no zone metadata.
    private const string EurekaJsAwsApp = """
        {"applications":{"versions__delta":"1","apps__hashcode":"UP_1_","application":[{"name":"CATALOG","instance":[{
          "hostName":"ip-10-0-1-12.ec2.internal","app":"CATALOG","ipAddr":"10.0.1.12","status":"UP","overriddenstatus":"UNKNOWN",
          "port":{"$":3000,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"},"countryId":1,
          "dataCenterInfo":{"@class":"com.netflix.appinfo.AmazonInfo","name":"Amazon","metadata":{
            "ami-id":"ami-0123456789abcdef0","instance-id":"i-0abcd1234ef567890","instance-type":"m5.large",
            "local-ipv4":"10.0.1.12","local-hostname":"ip-10-0-1-12.ec2.internal","availability-zone":"us-east-1c",
            "public-hostname":"ec2-54-1-2-3.compute-1.amazonaws.com","public-ipv4":"54.1.2.3","mac":"0a:1b:2c:3d:4e:5f",
            "vpc-id":"vpc-0a1b2c3d","accountId":"123456789012"}},
          "leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90},
          "metadata":{"@class":"java.util.Collections$EmptyMap"},
          "vipAddress":"catalog","secureVipAddress":"catalog",
          "lastUpdatedTimestamp":"1712957014900","lastDirtyTimestamp":"1712957014863","actionType":"ADDED"}]}]}}
        """;

    private static ServiceInstance Single(string json, string service)
    {
        var view = new RegistryView(EurekaJsonReader.ReadApplications(Encoding.UTF8.GetBytes(json)), RegistryOrigin.Server, "test", DateTimeOffset.UnixEpoch, preferIp: false);
        return Assert.Single(view.GetInstances(service)!);
    }

    [Fact]
    public void ASecurePortThatIsEnabled_IsCalledOverHttps_EvenWithThePlainPortEnabled()
    {
        // Spring's EurekaServiceInstance: isSecure() is isPortEnabled(SECURE); getPort() is then the secure port.
        var instance = Single(SpringSecureApp, "billing");

        Assert.True(instance.Secure);
        Assert.Equal(8443, instance.Port);
        Assert.Equal("https://billing-7d9f:8443/", instance.BaseUri.AbsoluteUri);
    }

    [Fact]
    public void ADisabledSecurePort_IsIgnored()
    {
        var instance = Single(SpringSecureApp.Replace("{\"$\":8443,\"@enabled\":\"true\"}", "{\"$\":8443,\"@enabled\":\"false\"}", StringComparison.Ordinal), "billing");

        Assert.False(instance.Secure);
        Assert.Equal("http://billing-7d9f:8080/", instance.BaseUri.AbsoluteUri);
    }

    [Fact]
    public void AnAmazonInstance_IsInItsAvailabilityZone_AndKnownByItsInstanceId()
    {
        var instance = Single(EurekaJsAwsApp, "catalog");

        Assert.Equal("us-east-1c", instance.Zone);
        Assert.Equal("i-0abcd1234ef567890", instance.InstanceId); // Netflix's InstanceInfo.getId(): AmazonInfo is a UniqueIdentifier
    }

    [Fact]
    public void MetadataZone_WinsOverTheAvailabilityZone()
    {
        var json = EurekaJsAwsApp.Replace("\"metadata\":{\"@class\":\"java.util.Collections$EmptyMap\"}", "\"metadata\":{\"zone\":\"rack-7\"}", StringComparison.Ordinal);

        Assert.Equal("rack-7", Single(json, "catalog").Zone);
    }

    [Fact]
    public void TheAmazonDataCenterInfo_IsKept_WhenWrittenBack()
    {
        // What the disk snapshot and the dev registry's answers write: the AmazonInfo as it came.
        var applications = EurekaJsonReader.ReadApplications(Encoding.UTF8.GetBytes(EurekaJsAwsApp));
        var written = EurekaJsonWriter.Applications(applications);

        using var document = JsonDocument.Parse(written);
        var dataCenter = document.RootElement.GetProperty("applications").GetProperty("application")[0].GetProperty("instance")[0].GetProperty("dataCenterInfo");
        Assert.Equal("com.netflix.appinfo.AmazonInfo", dataCenter.GetProperty("@class").GetString());
        Assert.Equal("Amazon", dataCenter.GetProperty("name").GetString());
        Assert.Equal("us-east-1c", dataCenter.GetProperty("metadata").GetProperty("availability-zone").GetString());
        Assert.Equal("i-0abcd1234ef567890", dataCenter.GetProperty("metadata").GetProperty("instance-id").GetString());
        Assert.Equal(11, dataCenter.GetProperty("metadata").EnumerateObject().Count());
        Assert.Equal("us-east-1c", Assert.Single(EurekaJsonReader.ReadApplications(written).AllInstances()).Zone);
    }
}

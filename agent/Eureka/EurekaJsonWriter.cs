using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Sidecar.Eureka;

/// <summary>
/// Writes Eureka's JSON the way Netflix's codec does (docs/eureka.md#register-body): ports as
/// <c>{"$":8080,"@enabled":"true"}</c>, instance timestamps and flags as strings, empty metadata as
/// <c>{"@class":"java.util.Collections$EmptyMap"}</c>, keys with <c>_</c> written <c>__</c>.
/// </summary>
internal static class EurekaJsonWriter
{
    private const string EmptyMapClass = "java.util.Collections$EmptyMap";

    /// <summary>The register body: <c>{"instance":{...}}</c>, with <c>overriddenstatus</c> always present (Netflix/eureka#1541).</summary>
    public static byte[] InstanceBody(EurekaInstanceInfo instance) => Write(writer =>
    {
        writer.WriteStartObject();
        writer.WritePropertyName("instance"u8);
        WriteInstance(writer, instance, registryAnswer: false);
        writer.WriteEndObject();
    });

    /// <summary>A registry answer or a snapshot: <c>{"applications":{...}}</c>.</summary>
    /// <param name="applications">The applications to write.</param>
    /// <param name="singleObjects">Write a one-item list as a bare object, as older servers do (the fake's switch).</param>
    public static byte[] Applications(EurekaApplications applications, bool singleObjects = false) => Write(writer =>
    {
        writer.WriteStartObject();
        writer.WritePropertyName("applications"u8);
        writer.WriteStartObject();
        writer.WriteString("versions__delta"u8, applications.VersionsDelta);
        writer.WriteString("apps__hashcode"u8, applications.AppsHashCode);
        writer.WritePropertyName("application"u8);
        WriteList(writer, applications.Applications, singleObjects, (w, app) => WriteApplication(w, app, singleObjects));
        writer.WriteEndObject();
        writer.WriteEndObject();
    });

    /// <summary>One application: <c>{"application":{...}}</c>.</summary>
    public static byte[] Application(EurekaApplication application, bool singleObjects = false) => Write(writer =>
    {
        writer.WriteStartObject();
        writer.WritePropertyName("application"u8);
        WriteApplication(writer, application, singleObjects);
        writer.WriteEndObject();
    });

    /// <summary>One instance as a server answers <c>GET apps/{APP}/{id}</c>: <c>{"instance":{...}}</c>, as Netflix's InstanceResource does (XML: <c>&lt;instance&gt;</c>).</summary>
    public static byte[] Instance(EurekaInstanceInfo instance) => Write(writer =>
    {
        writer.WriteStartObject();
        writer.WritePropertyName("instance"u8);
        WriteInstance(writer, instance, registryAnswer: true);
        writer.WriteEndObject();
    });

    private static void WriteApplication(Utf8JsonWriter writer, EurekaApplication application, bool singleObjects)
    {
        writer.WriteStartObject();
        writer.WriteString("name"u8, application.Name);
        writer.WritePropertyName("instance"u8);
        WriteList(writer, application.Instances, singleObjects, (w, i) => WriteInstance(w, i, registryAnswer: true));
        writer.WriteEndObject();
    }

    private static void WriteList<T>(Utf8JsonWriter writer, IReadOnlyList<T> items, bool singleObjects, Action<Utf8JsonWriter, T> write)
    {
        if (singleObjects && items.Count == 1)
        {
            write(writer, items[0]);
            return;
        }

        writer.WriteStartArray();
        foreach (var item in items)
        {
            write(writer, item);
        }

        writer.WriteEndArray();
    }

    private static void WriteInstance(Utf8JsonWriter writer, EurekaInstanceInfo instance, bool registryAnswer)
    {
        writer.WriteStartObject();
        writer.WriteString("instanceId"u8, instance.InstanceId);
        writer.WriteString("app"u8, instance.App);
        if (instance.AppGroupName is not null)
        {
            writer.WriteString("appGroupName"u8, instance.AppGroupName);
        }

        writer.WriteString("hostName"u8, instance.HostName);
        writer.WriteString("ipAddr"u8, instance.IpAddr);
        writer.WriteString("status"u8, instance.Status.ToWire());

        // The register body uses the spelling every server reads; registry answers use the newer one (parsers accept both).
        writer.WriteString(registryAnswer ? "overriddenStatus"u8 : "overriddenstatus"u8, instance.OverriddenStatus.ToWire());
        WritePort(writer, "port"u8, instance.Port, instance.PortEnabled);
        WritePort(writer, "securePort"u8, instance.SecurePort, instance.SecurePortEnabled);
        writer.WriteNumber("countryId"u8, instance.CountryId);
        WriteOptional(writer, "homePageUrl"u8, instance.HomePageUrl);
        WriteOptional(writer, "statusPageUrl"u8, instance.StatusPageUrl);
        WriteOptional(writer, "healthCheckUrl"u8, instance.HealthCheckUrl);
        WriteOptional(writer, "secureHealthCheckUrl"u8, instance.SecureHealthCheckUrl);
        WriteOptional(writer, "vipAddress"u8, instance.VipAddress);
        WriteOptional(writer, "secureVipAddress"u8, instance.SecureVipAddress);

        writer.WritePropertyName("dataCenterInfo"u8);
        writer.WriteStartObject();
        writer.WriteString("@class"u8, instance.DataCenterClass ?? EurekaInstanceInfo.DefaultDataCenterClass);
        writer.WriteString("name"u8, instance.DataCenterName ?? EurekaInstanceInfo.MyOwn);
        if (instance.DataCenterMetadata.Count > 0)
        {
            // AmazonInfo's metadata, as Netflix's codec writes it.
            writer.WritePropertyName("metadata"u8);
            writer.WriteStartObject();
            foreach (var (key, value) in instance.DataCenterMetadata)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndObject();

        var lease = instance.LeaseInfo;
        writer.WritePropertyName("leaseInfo"u8);
        writer.WriteStartObject();
        writer.WriteNumber("renewalIntervalInSecs"u8, lease.RenewalIntervalInSecs);
        writer.WriteNumber("durationInSecs"u8, lease.DurationInSecs);
        if (registryAnswer)
        {
            writer.WriteNumber("registrationTimestamp"u8, lease.RegistrationTimestamp);
            writer.WriteNumber("lastRenewalTimestamp"u8, lease.LastRenewalTimestamp);
            writer.WriteNumber("evictionTimestamp"u8, lease.EvictionTimestamp);
            writer.WriteNumber("serviceUpTimestamp"u8, lease.ServiceUpTimestamp);
        }

        writer.WriteEndObject();

        writer.WritePropertyName("metadata"u8);
        writer.WriteStartObject();
        if (instance.Metadata.Count == 0)
        {
            writer.WriteString("@class"u8, EmptyMapClass);
        }
        else
        {
            foreach (var (key, value) in instance.Metadata)
            {
                writer.WriteString(key, value);
            }
        }

        writer.WriteEndObject();
        writer.WriteString("isCoordinatingDiscoveryServer"u8, instance.IsCoordinatingDiscoveryServer ? "true" : "false");
        writer.WriteString("lastUpdatedTimestamp"u8, instance.LastUpdatedTimestamp.ToString(CultureInfo.InvariantCulture));
        writer.WriteString("lastDirtyTimestamp"u8, instance.LastDirtyTimestamp.ToString(CultureInfo.InvariantCulture));
        if (registryAnswer && instance.ActionType is { } action)
        {
            writer.WriteString("actionType"u8, action.ToWire());
        }

        writer.WriteEndObject();
    }

    private static void WritePort(Utf8JsonWriter writer, ReadOnlySpan<byte> name, int port, bool enabled)
    {
        writer.WritePropertyName(name);
        writer.WriteStartObject();
        writer.WriteNumber("$"u8, port);
        writer.WriteString("@enabled"u8, enabled ? "true" : "false");
        writer.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter writer, ReadOnlySpan<byte> name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }
}

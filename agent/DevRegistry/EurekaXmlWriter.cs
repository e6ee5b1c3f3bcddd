using System.Globalization;
using System.Text;
using System.Xml;
using Sidecar.Eureka;

namespace Sidecar.DevRegistry;

/// <summary>
/// Eureka's XML answers (what a server sends when the client did not ask for JSON): the same fields
/// as the JSON, ports as <c>&lt;port enabled="true"&gt;8080&lt;/port&gt;</c>, as Netflix's XStream codec writes them.
/// </summary>
internal static class EurekaXmlWriter
{
    private static readonly XmlWriterSettings Settings = new() { Encoding = new UTF8Encoding(false), Indent = false };

    public static byte[] Applications(EurekaApplications applications) => Write(writer =>
    {
        writer.WriteStartElement("applications");
        writer.WriteElementString("versions__delta", applications.VersionsDelta);
        writer.WriteElementString("apps__hashcode", applications.AppsHashCode);
        foreach (var application in applications.Applications)
        {
            WriteApplication(writer, application);
        }

        writer.WriteEndElement();
    });

    public static byte[] Application(EurekaApplication application) => Write(writer => WriteApplication(writer, application));

    public static byte[] Instance(EurekaInstanceInfo instance) => Write(writer => WriteInstance(writer, instance));

    private static void WriteApplication(XmlWriter writer, EurekaApplication application)
    {
        writer.WriteStartElement("application");
        writer.WriteElementString("name", application.Name);
        foreach (var instance in application.Instances)
        {
            WriteInstance(writer, instance);
        }

        writer.WriteEndElement();
    }

    private static void WriteInstance(XmlWriter writer, EurekaInstanceInfo instance)
    {
        writer.WriteStartElement("instance");
        writer.WriteElementString("instanceId", instance.InstanceId);
        writer.WriteElementString("hostName", instance.HostName);
        writer.WriteElementString("app", instance.App);
        writer.WriteElementString("ipAddr", instance.IpAddr);
        writer.WriteElementString("status", instance.Status.ToWire());
        writer.WriteElementString("overriddenstatus", instance.OverriddenStatus.ToWire());
        WritePort(writer, "port", instance.Port, instance.PortEnabled);
        WritePort(writer, "securePort", instance.SecurePort, instance.SecurePortEnabled);
        writer.WriteElementString("countryId", Number(instance.CountryId));
        writer.WriteStartElement("dataCenterInfo");
        writer.WriteAttributeString("class", instance.DataCenterClass ?? EurekaInstanceInfo.DefaultDataCenterClass);
        writer.WriteElementString("name", instance.DataCenterName ?? EurekaInstanceInfo.MyOwn);
        if (instance.DataCenterMetadata.Count > 0)
        {
            writer.WriteStartElement("metadata");
            foreach (var (key, value) in instance.DataCenterMetadata)
            {
                writer.WriteElementString(key, value);
            }

            writer.WriteEndElement();
        }

        writer.WriteEndElement();

        var lease = instance.LeaseInfo;
        writer.WriteStartElement("leaseInfo");
        writer.WriteElementString("renewalIntervalInSecs", Number(lease.RenewalIntervalInSecs));
        writer.WriteElementString("durationInSecs", Number(lease.DurationInSecs));
        writer.WriteElementString("registrationTimestamp", Number(lease.RegistrationTimestamp));
        writer.WriteElementString("lastRenewalTimestamp", Number(lease.LastRenewalTimestamp));
        writer.WriteElementString("evictionTimestamp", Number(lease.EvictionTimestamp));
        writer.WriteElementString("serviceUpTimestamp", Number(lease.ServiceUpTimestamp));
        writer.WriteEndElement();

        writer.WriteStartElement("metadata");
        if (instance.Metadata.Count == 0)
        {
            writer.WriteAttributeString("class", "java.util.Collections$EmptyMap");
        }

        foreach (var (key, value) in instance.Metadata)
        {
            // A key that is no XML name cannot be an element: XStream would fail too; leave it out.
            if (IsXmlName(key))
            {
                writer.WriteElementString(key, value);
            }
        }

        writer.WriteEndElement();
        WriteOptional(writer, "homePageUrl", instance.HomePageUrl);
        WriteOptional(writer, "statusPageUrl", instance.StatusPageUrl);
        WriteOptional(writer, "healthCheckUrl", instance.HealthCheckUrl);
        WriteOptional(writer, "secureHealthCheckUrl", instance.SecureHealthCheckUrl);
        WriteOptional(writer, "vipAddress", instance.VipAddress);
        WriteOptional(writer, "secureVipAddress", instance.SecureVipAddress);
        writer.WriteElementString("isCoordinatingDiscoveryServer", instance.IsCoordinatingDiscoveryServer ? "true" : "false");
        writer.WriteElementString("lastUpdatedTimestamp", Number(instance.LastUpdatedTimestamp));
        writer.WriteElementString("lastDirtyTimestamp", Number(instance.LastDirtyTimestamp));
        if (instance.ActionType is { } action)
        {
            writer.WriteElementString("actionType", action.ToWire());
        }

        writer.WriteEndElement();
    }

    private static void WritePort(XmlWriter writer, string name, int port, bool enabled)
    {
        writer.WriteStartElement(name);
        writer.WriteAttributeString("enabled", enabled ? "true" : "false");
        writer.WriteString(Number(port));
        writer.WriteEndElement();
    }

    private static void WriteOptional(XmlWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteElementString(name, value);
        }
    }

    private static bool IsXmlName(string name)
    {
        try
        {
            XmlConvert.VerifyNCName(name);
            return true;
        }
        catch (XmlException)
        {
            return false;
        }
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static byte[] Write(Action<XmlWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = XmlWriter.Create(stream, Settings))
        {
            writer.WriteStartDocument(true);
            write(writer);
            writer.WriteEndDocument();
        }

        return stream.ToArray();
    }
}

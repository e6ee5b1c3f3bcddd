using System.Globalization;
using System.Text.Json;

namespace Sidecar.Eureka;

/// <summary>
/// Reads Eureka's JSON without reflection, accepting every variant real servers emit
/// (docs/eureka.md#registry-answers): <c>application</c>/<c>instance</c> as an array or a
/// single object, <c>overriddenStatus</c> or <c>overriddenstatus</c>, <c>@enabled</c> as a string or
/// a bool, ports and timestamps as numbers or strings, unknown fields ignored. Whatever else an entry
/// holds (a value of the wrong type, a lone surrogate) costs that value, never the registry.
/// </summary>
internal static class EurekaJsonReader
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { AllowTrailingCommas = true, MaxDepth = 32 };

    /// <summary>Reads <c>{"applications":{...}}</c>.</summary>
    /// <param name="json">The answer's body.</param>
    /// <param name="dropped">Receives a description of each instance left out for lack of app, hostName or ipAddr.</param>
    /// <exception cref="JsonException">When the body is not JSON or not an applications object.</exception>
    public static EurekaApplications ReadApplications(ReadOnlyMemory<byte> json, List<string>? dropped = null)
    {
        using var document = JsonDocument.Parse(json, DocumentOptions);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !TryGet(root, "applications", out var applications) || applications.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("expected {\"applications\":{...}}");
        }

        var versionsDelta = "";
        var hashCode = "";
        var result = new List<EurekaApplication>();
        foreach (var property in applications.EnumerateObject())
        {
            switch (Name(property))
            {
                case "versions__delta":
                    versionsDelta = Text(property.Value) ?? "";
                    break;
                case "apps__hashcode":
                    hashCode = Text(property.Value) ?? "";
                    break;
                case "application":
                    foreach (var application in Items(property.Value))
                    {
                        if (ReadApplicationElement(application, dropped) is { } app)
                        {
                            result.Add(app);
                        }
                    }

                    break;
            }
        }

        return new EurekaApplications(versionsDelta, hashCode, result);
    }

    /// <summary>
    /// Reads <c>{"instance":{...}}</c>: a register body, or a server's answer to <c>GET apps/{APP}/{id}</c>
    /// (the same shape, with <c>overriddenStatus</c>, lease timestamps and <c>actionType</c>), keeping
    /// absent fields visible (empty or null) for the server's checks.
    /// </summary>
    /// <exception cref="JsonException">When the body is not JSON or has no instance object.</exception>
    public static EurekaInstanceInfo ReadInstanceBody(ReadOnlyMemory<byte> json)
    {
        using var document = JsonDocument.Parse(json, DocumentOptions);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !TryGet(root, "instance", out var instance) || instance.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("expected {\"instance\":{...}}");
        }

        return ReadInstanceElement(instance);
    }

    private static EurekaApplication? ReadApplicationElement(JsonElement application, List<string>? dropped)
    {
        if (application.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var name = "";
        var instances = new List<EurekaInstanceInfo>();
        foreach (var property in application.EnumerateObject())
        {
            var field = Name(property);
            if (field == "name")
            {
                name = Text(property.Value) ?? "";
            }
            else if (field == "instance")
            {
                foreach (var element in Items(property.Value))
                {
                    if (element.ValueKind != JsonValueKind.Object)
                    {
                        continue;
                    }

                    var instance = ReadInstanceElement(element);
                    if (instance.App.Length == 0 || instance.HostName.Length == 0 || instance.IpAddr.Length == 0)
                    {
                        dropped?.Add($"{name}/{(instance.InstanceId.Length > 0 ? instance.InstanceId : "?")}");
                        continue;
                    }

                    // Netflix's InstanceInfo.getId(): an instance without instanceId is known by its Amazon instance-id or host name.
                    instances.Add(instance.InstanceId.Length > 0 ? instance : instance with { InstanceId = instance.Id });
                }
            }
        }

        return name.Length == 0 && instances.Count == 0 ? null : new EurekaApplication(name.ToUpperInvariant(), instances);
    }

    internal static EurekaInstanceInfo ReadInstanceElement(JsonElement element)
    {
        var instance = new EurekaInstanceInfo { DataCenterClass = null, DataCenterName = null };
        InstanceStatus? overridden = null;
        foreach (var property in element.EnumerateObject())
        {
            var value = property.Value;
            switch (Name(property))
            {
                case "instanceId": instance = instance with { InstanceId = Text(value) ?? "" }; break;
                case "app": instance = instance with { App = (Text(value) ?? "").ToUpperInvariant() }; break;
                case "appGroupName": instance = instance with { AppGroupName = Text(value) }; break;
                case "hostName": instance = instance with { HostName = Text(value) ?? "" }; break;
                case "ipAddr": instance = instance with { IpAddr = Text(value) ?? "" }; break;
                case "status": instance = instance with { Status = Status(value) }; break;
                case "overriddenStatus" or "overriddenstatus": overridden = Status(value); break;
                case "port":
                    var (port, portEnabled) = Port(value, 7001, true);
                    instance = instance with { Port = port, PortEnabled = portEnabled };
                    break;
                case "securePort":
                    var (securePort, secureEnabled) = Port(value, 7002, false);
                    instance = instance with { SecurePort = securePort, SecurePortEnabled = secureEnabled };
                    break;
                case "countryId": instance = instance with { CountryId = Int(value, 1) }; break;
                case "homePageUrl": instance = instance with { HomePageUrl = Text(value) }; break;
                case "statusPageUrl": instance = instance with { StatusPageUrl = Text(value) }; break;
                case "healthCheckUrl": instance = instance with { HealthCheckUrl = Text(value) }; break;
                case "secureHealthCheckUrl": instance = instance with { SecureHealthCheckUrl = Text(value) }; break;
                case "vipAddress": instance = instance with { VipAddress = Text(value) }; break;
                case "secureVipAddress": instance = instance with { SecureVipAddress = Text(value) }; break;
                case "dataCenterInfo" when value.ValueKind == JsonValueKind.Object:
                    instance = instance with
                    {
                        DataCenterClass = TryGet(value, "@class", out var dcClass) ? Text(dcClass) : null,
                        DataCenterName = TryGet(value, "name", out var dcName) ? Text(dcName) : null,
                        DataCenterMetadata = TryGet(value, "metadata", out var dcMetadata) ? Metadata(dcMetadata) : EurekaInstanceInfo.EmptyMetadata,
                    };
                    break;
                case "leaseInfo" when value.ValueKind == JsonValueKind.Object: instance = instance with { LeaseInfo = Lease(value) }; break;
                case "metadata": instance = instance with { Metadata = Metadata(value) }; break;
                case "isCoordinatingDiscoveryServer": instance = instance with { IsCoordinatingDiscoveryServer = Bool(value, false) }; break;
                case "lastUpdatedTimestamp": instance = instance with { LastUpdatedTimestamp = Number(value, 0) }; break;
                case "lastDirtyTimestamp": instance = instance with { LastDirtyTimestamp = Number(value, 0) }; break;
                case "actionType": instance = instance with { ActionType = EurekaActionTypeNames.Parse(Text(value)) }; break;
            }
        }

        return overridden is { } o ? instance with { OverriddenStatus = o } : instance;
    }

    /// <summary>An array's items, or a single object as one item (older servers), or nothing.</summary>
    internal static IEnumerable<JsonElement> Items(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in value.EnumerateArray())
            {
                yield return item;
            }
        }
        else if (value.ValueKind == JsonValueKind.Object)
        {
            yield return value;
        }
    }

    private static EurekaLeaseInfo Lease(JsonElement value)
    {
        var lease = new EurekaLeaseInfo();
        foreach (var property in value.EnumerateObject())
        {
            lease = Name(property) switch
            {
                "renewalIntervalInSecs" => lease with { RenewalIntervalInSecs = Int(property.Value, 30) },
                "durationInSecs" => lease with { DurationInSecs = Int(property.Value, 90) },
                "registrationTimestamp" => lease with { RegistrationTimestamp = Number(property.Value, 0) },
                "lastRenewalTimestamp" => lease with { LastRenewalTimestamp = Number(property.Value, 0) },
                "evictionTimestamp" => lease with { EvictionTimestamp = Number(property.Value, 0) },
                "serviceUpTimestamp" => lease with { ServiceUpTimestamp = Number(property.Value, 0) },
                _ => lease,
            };
        }

        return lease;
    }

    // {"$":8080,"@enabled":"true"}; a bare number or string is accepted too. A port that is there but
    // unreadable (8080.5, "x", an array) is 0, which no instance can have: never the default port.
    private static (int Port, bool Enabled) Port(JsonElement value, int defaultPort, bool defaultEnabled)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            return (Int(value, 0), defaultEnabled);
        }

        var port = TryGet(value, "$", out var number) ? Int(number, 0) : defaultPort;
        var enabled = TryGet(value, "@enabled", out var flag) ? Bool(flag, defaultEnabled) : defaultEnabled;
        return (port, enabled);
    }

    // Empty metadata may be {} or {"@class":"java.util.Collections$EmptyMap"}: keys starting with '@' are type hints, not metadata.
    private static IReadOnlyDictionary<string, string> Metadata(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            return EurekaInstanceInfo.EmptyMetadata;
        }

        Dictionary<string, string>? metadata = null;
        foreach (var property in value.EnumerateObject())
        {
            var key = Name(property);
            if (key.Length == 0 || key.StartsWith('@') || Text(property.Value) is not { } text)
            {
                continue;
            }

            metadata ??= new Dictionary<string, string>(StringComparer.Ordinal);
            metadata[key] = text;
        }

        return metadata ?? EurekaInstanceInfo.EmptyMetadata;
    }

    private static InstanceStatus Status(JsonElement value) =>
        InstanceStatusNames.TryParse(Text(value), out var status) ? status : InstanceStatus.Unknown;

    private static string? Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => StringOrNull(value),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => null,
    };

    // TryGetProperty unescapes the names it passes: one with a lone surrogate would throw.
    private static bool TryGet(JsonElement element, string name, out JsonElement value)
    {
        try
        {
            return element.TryGetProperty(name, out value);
        }
        catch (InvalidOperationException)
        {
            value = default;
            return false;
        }
    }

    // A name with a lone surrogate names no field we read: "" (ignored), rather than an exception.
    private static string Name(JsonProperty property)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException)
        {
            return "";
        }
    }

    // JSON may escape a lone surrogate ("\ud800"), which no .NET string can hold: no value, rather than an exception.
    private static string? StringOrNull(JsonElement value)
    {
        try
        {
            return value.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static long Number(JsonElement value, long defaultValue) => value.ValueKind switch
    {
        JsonValueKind.Number when value.TryGetInt64(out var n) => n,
        JsonValueKind.String when long.TryParse(StringOrNull(value), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) => n,
        _ => defaultValue,
    };

    // Clamped, not truncated: a port of 4294967376 must stay out of range, not wrap round to 80.
    private static int Int(JsonElement value, int defaultValue) => (int)Math.Clamp(Number(value, defaultValue), int.MinValue, int.MaxValue);

    private static bool Bool(JsonElement value, bool defaultValue) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => bool.TryParse(StringOrNull(value), out var b) ? b : defaultValue,
        _ => defaultValue,
    };
}

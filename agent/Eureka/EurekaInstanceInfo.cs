
namespace Sidecar.Eureka;

/// <summary>
/// One Eureka instance as it travels on the wire (register body, registry answers, snapshots).
/// Field names follow Netflix's <c>InstanceInfo</c>; absent fields keep the server's defaults
/// (ports 7001/7002, port enabled, secure port disabled), see docs/eureka.md#register-body.
/// </summary>
internal sealed record EurekaInstanceInfo
{
    public const string DefaultDataCenterClass = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo";
    public const string MyOwn = "MyOwn";

    public string InstanceId { get; init; } = "";

    /// <summary>The application name, upper case on the wire (<c>ORDERS</c>).</summary>
    public string App { get; init; } = "";

    public string? AppGroupName { get; init; }

    public string HostName { get; init; } = "";

    public string IpAddr { get; init; } = "";

    public InstanceStatus Status { get; init; } = InstanceStatus.Up;

    /// <summary>UNKNOWN means no override.</summary>
    public InstanceStatus OverriddenStatus { get; init; } = InstanceStatus.Unknown;

    public int Port { get; init; } = 7001;

    public bool PortEnabled { get; init; } = true;

    public int SecurePort { get; init; } = 7002;

    public bool SecurePortEnabled { get; init; }

    public int CountryId { get; init; } = 1;

    public string? HomePageUrl { get; init; }

    public string? StatusPageUrl { get; init; }

    public string? HealthCheckUrl { get; init; }

    public string? SecureHealthCheckUrl { get; init; }

    /// <summary>Comma-separated VIP addresses; keeps the configured case.</summary>
    public string? VipAddress { get; init; }

    public string? SecureVipAddress { get; init; }

    /// <summary>Null when the body had no <c>dataCenterInfo</c> (a server answers 400).</summary>
    public string? DataCenterClass { get; init; } = DefaultDataCenterClass;

    /// <summary>Null when the body had no <c>dataCenterInfo.name</c> (a server answers 400).</summary>
    public string? DataCenterName { get; init; } = MyOwn;

    /// <summary>
    /// <c>dataCenterInfo.metadata</c> of an <c>AmazonInfo</c> (<c>instance-id</c>, <c>availability-zone</c>,
    /// <c>local-ipv4</c>...), kept as sent so answers and snapshots carry it on. Empty for <c>MyOwn</c>.
    /// </summary>
    public IReadOnlyDictionary<string, string> DataCenterMetadata { get; init; } = EmptyMetadata;

    /// <summary>
    /// The id Eureka knows the instance by (Netflix's <c>InstanceInfo.getId()</c>): its <c>instanceId</c>;
    /// without one, an <c>AmazonInfo</c>'s <c>instance-id</c>; else its host name.
    /// </summary>
    public string Id => InstanceId.Length > 0 ? InstanceId
        : DataCenterMetadata.TryGetValue("instance-id", out var amazonId) && amazonId.Length > 0 ? amazonId
        : HostName;

    /// <summary>
    /// The instance's zone: metadata <c>zone</c> (what Spring Cloud registers and reads), else an
    /// <c>AmazonInfo</c>'s <c>availability-zone</c> (what Netflix's <c>InstanceInfo.getZone</c> reads); null when neither says.
    /// </summary>
    public string? Zone => Metadata.TryGetValue("zone", out var zone) && zone.Length > 0 ? zone
        : DataCenterMetadata.TryGetValue("availability-zone", out var az) && az.Length > 0 ? az
        : null;

    public EurekaLeaseInfo LeaseInfo { get; init; } = new();

    public IReadOnlyDictionary<string, string> Metadata { get; init; } = EmptyMetadata;

    public bool IsCoordinatingDiscoveryServer { get; init; }

    public long LastUpdatedTimestamp { get; init; }

    public long LastDirtyTimestamp { get; init; }

    /// <summary>Set on registry answers: what happened to the instance (deltas rely on it).</summary>
    public EurekaActionType? ActionType { get; init; }

    public static readonly IReadOnlyDictionary<string, string> EmptyMetadata = new Dictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>The lease part of an instance: what the client asks for and, in answers, what the server saw.</summary>
internal sealed record EurekaLeaseInfo
{
    public int RenewalIntervalInSecs { get; init; } = 30;

    public int DurationInSecs { get; init; } = 90;

    public long RegistrationTimestamp { get; init; }

    public long LastRenewalTimestamp { get; init; }

    public long EvictionTimestamp { get; init; }

    public long ServiceUpTimestamp { get; init; }
}

/// <summary>What a registry answer says happened to an instance.</summary>
internal enum EurekaActionType
{
    Added,
    Modified,
    Deleted,
}

/// <summary>One application of a registry answer: its upper-case name and its instances.</summary>
internal sealed record EurekaApplication(string Name, IReadOnlyList<EurekaInstanceInfo> Instances);

/// <summary>A full registry or a delta (<c>{"applications":{...}}</c>).</summary>
/// <param name="VersionsDelta">The server's <c>versions__delta</c>.</param>
/// <param name="AppsHashCode">The server's <c>apps__hashcode</c>: always over its WHOLE registry, deltas included.</param>
/// <param name="Applications">The applications listed.</param>
internal sealed record EurekaApplications(string VersionsDelta, string AppsHashCode, IReadOnlyList<EurekaApplication> Applications)
{
    public static readonly EurekaApplications Empty = new("1", "", []);

    public IEnumerable<EurekaInstanceInfo> AllInstances()
    {
        foreach (var application in Applications)
        {
            foreach (var instance in application.Instances)
            {
                yield return instance;
            }
        }
    }
}

internal static class EurekaActionTypeNames
{
    public static string ToWire(this EurekaActionType action) => action switch
    {
        EurekaActionType.Added => "ADDED",
        EurekaActionType.Modified => "MODIFIED",
        _ => "DELETED",
    };

    public static EurekaActionType? Parse(string? text) => text?.ToUpperInvariant() switch
    {
        "ADDED" => EurekaActionType.Added,
        "MODIFIED" => EurekaActionType.Modified,
        "DELETED" => EurekaActionType.Deleted,
        _ => null,
    };
}

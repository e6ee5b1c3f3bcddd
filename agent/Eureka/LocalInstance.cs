using Sidecar.Configuration;

namespace Sidecar.Eureka;

/// <summary>
/// Who this agent registers (docs/eureka.md#variables): the app's name and port, the host and IP (set or
/// detected), the instance id, metadata and zone, and health/status URLs pointing at the agent,
/// on the public health listener when there is one (the API itself is loopback by default).
/// </summary>
internal sealed class LocalInstance
{
    /// <param name="contribution">What another capability adds (the actuator's metadata and URLs); null for none.</param>
    public LocalInstance(AppOptions app, EurekaOptions eureka, SidecarOptions sidecar, InstanceContribution? contribution = null)
        : this(app, eureka, sidecar, app.Host ?? HostIdentity.DetectHostName(), app.Ip ?? HostIdentity.DetectIPv4().ToString(), contribution)
    {
    }

    internal LocalInstance(AppOptions app, EurekaOptions eureka, SidecarOptions sidecar, string hostName, string ipAddress, InstanceContribution? contribution = null)
    {
        AppName = app.Name ?? "";
        AppPort = app.Port ?? 0;
        HostName = hostName;
        IpAddress = ipAddress;

        // With preferIp the IP is what others are told to call (Spring Cloud's preferIpAddress registers it as hostName too).
        RegisteredHost = eureka.PreferIp ? ipAddress : hostName;

        // Spring Cloud's default: ${hostname}:${spring.application.name}:${server.port}, the host name even with preferIp.
        InstanceId = eureka.InstanceId ?? $"{hostName}:{AppName}:{AppPort}";

        var metadata = new Dictionary<string, string>(app.Metadata, StringComparer.Ordinal);
        foreach (var (key, value) in contribution?.Metadata ?? EurekaInstanceInfo.EmptyMetadata)
        {
            metadata.TryAdd(key, value); // APP_METADATA wins: the user's word
        }

        if (eureka.Zone is { } zone)
        {
            metadata["zone"] = zone;
        }

        Metadata = metadata;
        var agentPort = sidecar.PublicHealthPort ?? sidecar.Port;
        HomePageUrl = Url(RegisteredHost, AppPort, "/");
        StatusPageUrl = Url(RegisteredHost, agentPort, contribution?.StatusPagePath ?? "/status");
        HealthCheckUrl = Url(RegisteredHost, agentPort, contribution?.HealthCheckPath ?? "/healthcheck");
        RenewalIntervalSeconds = eureka.RenewIntervalSeconds;
        LeaseDurationSeconds = eureka.LeaseDurationSeconds;
    }

    /// <summary>The app's name as configured (the VIP address keeps this case).</summary>
    public string AppName { get; }

    /// <summary>Eureka's app name: upper case.</summary>
    public string EurekaAppName => AppName.ToUpperInvariant();

    public int AppPort { get; }

    public string HostName { get; }

    public string IpAddress { get; }

    /// <summary>The <c>hostName</c> registered: the IP when preferIp is on.</summary>
    public string RegisteredHost { get; }

    public string InstanceId { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public string HomePageUrl { get; }

    public string StatusPageUrl { get; }

    public string HealthCheckUrl { get; }

    public int RenewalIntervalSeconds { get; }

    public int LeaseDurationSeconds { get; }

    /// <summary>The register body's instance for the given status; <paramref name="overridden"/> is the app's own OUT_OF_SERVICE, if set.</summary>
    public EurekaInstanceInfo ToInstanceInfo(InstanceStatus status, InstanceStatus overridden, long timestamp) => new()
    {
        InstanceId = InstanceId,
        App = EurekaAppName,
        HostName = RegisteredHost,
        IpAddr = IpAddress,
        Status = status,
        OverriddenStatus = overridden,
        Port = AppPort,
        PortEnabled = true,
        SecurePort = 443,
        SecurePortEnabled = false,
        HomePageUrl = HomePageUrl,
        StatusPageUrl = StatusPageUrl,
        HealthCheckUrl = HealthCheckUrl,
        VipAddress = AppName,
        SecureVipAddress = AppName,
        LeaseInfo = new EurekaLeaseInfo { RenewalIntervalInSecs = RenewalIntervalSeconds, DurationInSecs = LeaseDurationSeconds },
        Metadata = Metadata,
        LastUpdatedTimestamp = timestamp,
        LastDirtyTimestamp = timestamp,
    };

    private static string Url(string host, int port, string path) =>
        new UriBuilder(Uri.UriSchemeHttp, host, port, path).Uri.AbsoluteUri;
}

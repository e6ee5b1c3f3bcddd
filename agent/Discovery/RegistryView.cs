using Sidecar.Eureka;
namespace Sidecar.Discovery;

/// <summary>Where the registry in memory came from.</summary>
internal enum RegistryOrigin
{
    /// <summary>Nothing fetched or loaded yet.</summary>
    None,

    /// <summary>Fetched from a Eureka server (full, then deltas).</summary>
    Server,

    /// <summary>Loaded from the disk snapshot because no Eureka server answered at start.</summary>
    Snapshot,
}

/// <summary>An instance the registry lists but calls cannot go to (a port of 70000, a host name with a space), and why.</summary>
internal sealed record RejectedInstance(string App, string InstanceId, string Reason);

/// <summary>
/// One immutable state of the Eureka registry with the lookups the agent needs built once:
/// instances by app name and by VIP address, case-insensitive, already mapped to
/// <see cref="ServiceInstance"/> (host = IP when preferIp, https on the secure port when it is enabled),
/// so a lookup on the forwarding path is one dictionary read. An instance whose host or port makes
/// no URL is left out of the lookups (and listed in <see cref="Rejected"/>) but kept in
/// <see cref="Applications"/>: the hash must count it as the server does, or every delta would
/// end in a full fetch.
/// </summary>
internal sealed class RegistryView
{
    public static readonly RegistryView Empty = new(EurekaApplications.Empty, RegistryOrigin.None, null, DateTimeOffset.MinValue, preferIp: false);

    private readonly Dictionary<string, IReadOnlyList<ServiceInstance>> _byApp;
    private readonly Dictionary<string, IReadOnlyList<ServiceInstance>> _byVip;

    public RegistryView(EurekaApplications applications, RegistryOrigin origin, string? server, DateTimeOffset updatedAt, bool preferIp)
    {
        Origin = origin;
        Server = server;
        UpdatedAt = updatedAt;
        var byApp = new Dictionary<string, List<EurekaInstanceInfo>>(StringComparer.OrdinalIgnoreCase);
        foreach (var application in applications.Applications)
        {
            foreach (var instance in application.Instances)
            {
                var app = instance.App.Length > 0 ? instance.App : application.Name;
                if (!byApp.TryGetValue(app, out var list))
                {
                    byApp[app] = list = [];
                }

                list.Add(instance);
            }
        }

        // Sorted by id so the same registry always gives the same order (stable answers, stable snapshots).
        var apps = new List<EurekaApplication>(byApp.Count);
        foreach (var (name, instances) in byApp)
        {
            instances.Sort((a, b) => string.CompareOrdinal(a.InstanceId, b.InstanceId));
            apps.Add(new EurekaApplication(name.ToUpperInvariant(), instances));
        }

        apps.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        HashCode = AppsHashCode.Compute(apps.SelectMany(a => a.Instances));
        Applications = new EurekaApplications(applications.VersionsDelta, HashCode, apps);

        _byApp = new Dictionary<string, IReadOnlyList<ServiceInstance>>(StringComparer.OrdinalIgnoreCase);
        var byVip = new Dictionary<string, List<ServiceInstance>>(StringComparer.OrdinalIgnoreCase);
        var names = new List<string>(apps.Count);
        List<RejectedInstance>? rejected = null;
        var count = 0;
        foreach (var application in apps)
        {
            var serviceId = application.Name.ToLowerInvariant();
            var mapped = new List<ServiceInstance>(application.Instances.Count);
            foreach (var instance in application.Instances)
            {
                if (ToServiceInstance(serviceId, instance, preferIp, out var reason) is not { } usable)
                {
                    (rejected ??= []).Add(new RejectedInstance(application.Name, instance.InstanceId, reason!));
                    continue;
                }

                mapped.Add(usable);
                foreach (var vip in Vips(instance))
                {
                    if (!byVip.TryGetValue(vip, out var list))
                    {
                        byVip[vip] = list = [];
                    }

                    list.Add(usable);
                }
            }

            // An app whose instances are all rejected stays known, with none to call (503 no-instance, not 404).
            _byApp[serviceId] = mapped.ToArray();
            names.Add(serviceId);
            count += mapped.Count;
        }

        _byVip = byVip.ToDictionary(p => p.Key, p => (IReadOnlyList<ServiceInstance>)p.Value.ToArray(), StringComparer.OrdinalIgnoreCase);
        ServiceNames = names;
        InstanceCount = count;
        Rejected = rejected ?? [];
    }

    /// <summary>The instances left out of the lookups, in registry order.</summary>
    public IReadOnlyList<RejectedInstance> Rejected { get; }

    /// <summary>The registry, applications and instances sorted, with the locally computed hash.</summary>
    public EurekaApplications Applications { get; }

    /// <summary><c>apps__hashcode</c> computed over this registry.</summary>
    public string HashCode { get; }

    public RegistryOrigin Origin { get; }

    /// <summary>The server it was fetched from, when fetched.</summary>
    public string? Server { get; }

    /// <summary>When it was fetched, or when the snapshot was saved.</summary>
    public DateTimeOffset UpdatedAt { get; }

    /// <summary>App names, lower case, sorted.</summary>
    public IReadOnlyList<string> ServiceNames { get; }

    /// <summary>Instances calls can go to (the rejected ones are not counted).</summary>
    public int InstanceCount { get; }

    /// <summary>Instances of an app name, else of a VIP address (case-insensitive); null when neither is known.</summary>
    public IReadOnlyList<ServiceInstance>? GetInstances(string name) =>
        _byApp.TryGetValue(name, out var instances) || _byVip.TryGetValue(name, out instances) ? instances : null;

    /// <summary>Instances of an app name only.</summary>
    public IReadOnlyList<ServiceInstance>? GetAppInstances(string name) => _byApp.GetValueOrDefault(name);

    /// <summary>The instance as calls see it; null, with the reason, when its host or port makes no URL.</summary>
    internal static ServiceInstance? ToServiceInstance(string serviceId, EurekaInstanceInfo instance, bool preferIp, out string? reason)
    {
        // Spring Cloud's EurekaServiceInstance: an enabled secure port is the default, whatever the plain port says.
        var secure = instance.SecurePortEnabled;
        var host = preferIp ? instance.IpAddr : instance.HostName;
        var port = secure ? instance.SecurePort : instance.Port;
        reason = ServiceInstance.Check(host, port, preferIp ? "ipAddr" : "hostName", secure ? "securePort" : "port");
        if (reason is not null)
        {
            return null;
        }

        return new ServiceInstance(
            serviceId,
            instance.InstanceId,
            host,
            port,
            secure,
            instance.Status,
            instance.Zone,
            instance.Metadata);
    }

    private static HashSet<string> Vips(EurekaInstanceInfo instance)
    {
        // vipAddress may list several, comma-separated; secure-only instances are also found by their secure VIP.
        var vips = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        Add(vips, instance.VipAddress);
        if (instance.SecurePortEnabled && !instance.PortEnabled)
        {
            Add(vips, instance.SecureVipAddress);
        }

        return vips;

        static void Add(HashSet<string> vips, string? list)
        {
            if (!string.IsNullOrEmpty(list))
            {
                vips.UnionWith(list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            }
        }
    }
}

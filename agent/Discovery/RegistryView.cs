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

/// <summary>
/// One immutable state of the Eureka registry with the lookups the agent needs built once:
/// instances by app name and by VIP address, case-insensitive, already mapped to
/// <see cref="ServiceInstance"/> (host = IP when preferIp, https on the secure port when it is enabled),
/// so a lookup on the forwarding path is one dictionary read.
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
        var count = 0;
        foreach (var application in apps)
        {
            var serviceId = application.Name.ToLowerInvariant();
            var mapped = new ServiceInstance[application.Instances.Count];
            for (var i = 0; i < mapped.Length; i++)
            {
                var instance = application.Instances[i];
                mapped[i] = ToServiceInstance(serviceId, instance, preferIp);
                foreach (var vip in Vips(instance))
                {
                    if (!byVip.TryGetValue(vip, out var list))
                    {
                        byVip[vip] = list = [];
                    }

                    list.Add(mapped[i]);
                }
            }

            _byApp[serviceId] = mapped;
            names.Add(serviceId);
            count += mapped.Length;
        }

        _byVip = byVip.ToDictionary(p => p.Key, p => (IReadOnlyList<ServiceInstance>)p.Value.ToArray(), StringComparer.OrdinalIgnoreCase);
        ServiceNames = names;
        InstanceCount = count;
    }

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

    public int InstanceCount { get; }

    /// <summary>Instances of an app name, else of a VIP address (case-insensitive); null when neither is known.</summary>
    public IReadOnlyList<ServiceInstance>? GetInstances(string name) =>
        _byApp.TryGetValue(name, out var instances) || _byVip.TryGetValue(name, out instances) ? instances : null;

    /// <summary>Instances of an app name only.</summary>
    public IReadOnlyList<ServiceInstance>? GetAppInstances(string name) => _byApp.GetValueOrDefault(name);

    internal static ServiceInstance ToServiceInstance(string serviceId, EurekaInstanceInfo instance, bool preferIp)
    {
        // Spring Cloud's EurekaServiceInstance: an enabled secure port is the default, whatever the plain port says.
        var secure = instance.SecurePortEnabled;
        return new ServiceInstance(
            serviceId,
            instance.InstanceId,
            preferIp ? instance.IpAddr : instance.HostName,
            secure ? instance.SecurePort : instance.Port,
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

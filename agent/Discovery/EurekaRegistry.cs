using Sidecar.Eureka;

namespace Sidecar.Discovery;

/// <summary>
/// The Eureka registry held in memory: replaced by a full fetch, patched by deltas, or loaded from
/// the disk snapshot. Readers take <see cref="View"/> (one volatile read, immutable); only the
/// refresher writes. <see cref="Version"/> goes up with every change.
/// </summary>
internal sealed class EurekaRegistry(EurekaOptions options)
{
    private RegistryView _view = RegistryView.Empty;
    private long _version;

    public RegistryView View => Volatile.Read(ref _view);

    public long Version => Interlocked.Read(ref _version);

    public void Replace(EurekaApplications applications, RegistryOrigin origin, string? server, DateTimeOffset at) =>
        Publish(new RegistryView(applications, origin, server, at, options.PreferIp));

    /// <summary>
    /// Applies a delta (docs/eureka.md#delta-and-the-reconcile-hash): ADDED and MODIFIED
    /// replace the instance by id, DELETED removes it, so applying the same delta twice changes
    /// nothing. Returns false when the hash of the result differs from the server's
    /// <c>apps__hashcode</c> (the caller then fetches in full); the patched registry is kept either
    /// way, being closer to the truth than the one before.
    /// </summary>
    public bool ApplyDelta(EurekaApplications delta, string? server, DateTimeOffset at, out bool changed)
    {
        var current = View;
        changed = false;
        var apps = new Dictionary<string, Dictionary<string, EurekaInstanceInfo>>(StringComparer.OrdinalIgnoreCase);
        foreach (var application in current.Applications.Applications)
        {
            var instances = new Dictionary<string, EurekaInstanceInfo>(StringComparer.Ordinal);
            foreach (var instance in application.Instances)
            {
                instances[instance.InstanceId] = instance;
            }

            apps[application.Name] = instances;
        }

        foreach (var instance in delta.AllInstances())
        {
            if (!apps.TryGetValue(instance.App, out var instances))
            {
                apps[instance.App] = instances = new Dictionary<string, EurekaInstanceInfo>(StringComparer.Ordinal);
            }

            switch (instance.ActionType)
            {
                case EurekaActionType.Added or EurekaActionType.Modified:
                    changed |= !instances.TryGetValue(instance.InstanceId, out var existing) || !SameContent(existing, instance);
                    instances[instance.InstanceId] = instance;
                    break;
                case EurekaActionType.Deleted:
                    changed |= instances.Remove(instance.InstanceId);
                    break;

                    // No action type: Netflix's client ignores the instance too.
            }
        }

        var patched = new List<EurekaApplication>(apps.Count);
        foreach (var (name, instances) in apps)
        {
            if (instances.Count > 0)
            {
                patched.Add(new EurekaApplication(name, [.. instances.Values]));
            }
        }

        var view = new RegistryView(new EurekaApplications(delta.VersionsDelta, "", patched), RegistryOrigin.Server, server, at, options.PreferIp);
        if (changed)
        {
            Publish(view);
        }
        else
        {
            // Same content: keep readers' caches (Version) but record the fetch.
            Volatile.Write(ref _view, view);
        }

        return string.Equals(view.HashCode, delta.AppsHashCode, StringComparison.Ordinal);
    }

    // Deltas repeat a change for about 3 minutes: only a real difference counts as a change.
    private static bool SameContent(EurekaInstanceInfo a, EurekaInstanceInfo b)
    {
        if (a.Status != b.Status || a.OverriddenStatus != b.OverriddenStatus ||
            a.LastDirtyTimestamp != b.LastDirtyTimestamp || a.LastUpdatedTimestamp != b.LastUpdatedTimestamp ||
            a.HostName != b.HostName || a.IpAddr != b.IpAddr ||
            a.Port != b.Port || a.PortEnabled != b.PortEnabled || a.SecurePort != b.SecurePort || a.SecurePortEnabled != b.SecurePortEnabled ||
            a.VipAddress != b.VipAddress || a.SecureVipAddress != b.SecureVipAddress || a.Metadata.Count != b.Metadata.Count)
        {
            return false;
        }

        foreach (var (key, value) in a.Metadata)
        {
            if (!b.Metadata.TryGetValue(key, out var other) || other != value)
            {
                return false;
            }
        }

        return true;
    }

    private void Publish(RegistryView view)
    {
        Volatile.Write(ref _view, view);
        Interlocked.Increment(ref _version);
    }
}

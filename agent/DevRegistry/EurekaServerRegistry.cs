using Sidecar.Eureka;

namespace Sidecar.DevRegistry;

/// <summary>
/// The state and rules of a Eureka server, in memory, single node
/// (docs/eureka.md#server-rules-dev-registry-and-fake): leases with expiry, the override map and Netflix's status
/// resolution, the recently-changed queue behind deltas, the whole-registry hash. It serves the
/// <c>agent registry</c> command (development only) and, with fault switches around it, the tests'
/// fake Eureka. No replication, no self-preservation, no persistence.
/// </summary>
internal sealed class EurekaServerRegistry(TimeProvider time, TimeSpan? deltaRetention = null)
{
    /// <summary>How long a change stays in deltas: about 3 minutes, as Netflix's retention.</summary>
    public static readonly TimeSpan DefaultDeltaRetention = TimeSpan.FromMinutes(3);

    private readonly TimeSpan _retention = deltaRetention ?? DefaultDeltaRetention;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Dictionary<string, Lease>> _apps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, InstanceStatus> _overrides = new(StringComparer.Ordinal);
    private readonly List<(long At, EurekaInstanceInfo Instance)> _recentlyChanged = [];
    private long _version = 1;

    /// <summary>Register (<c>POST apps/{APP}</c>): null when accepted (204), else the 400 text.</summary>
    public string? Register(string pathApp, EurekaInstanceInfo registrant)
    {
        if (Validate(pathApp, registrant) is { } error)
        {
            return error;
        }

        lock (_lock)
        {
            var now = Now();
            EvictExpired(now);
            var app = pathApp.ToUpperInvariant();

            // Netflix's InstanceInfo.getId(): a body without instanceId (eureka-js-client's examples send none)
            // is known by its AmazonInfo instance-id or its host name, and renewed, cancelled and read under it.
            var id = registrant.Id;
            var existing = Find(app, id);
            registrant = registrant with { App = app, InstanceId = id };

            // Netflix keeps the instance it has when its lastDirtyTimestamp is newer than the registrant's.
            if (existing is not null && existing.Holder.LastDirtyTimestamp > registrant.LastDirtyTimestamp)
            {
                registrant = existing.Holder;
            }

            // The override a client carries is taken over only when the server has none.
            if (registrant.OverriddenStatus != InstanceStatus.Unknown)
            {
                _overrides.TryAdd(id, registrant.OverriddenStatus);
            }

            if (_overrides.TryGetValue(id, out var overridden))
            {
                registrant = registrant with { OverriddenStatus = overridden };
            }

            var status = Resolve(registrant.Status, id, existing?.Holder.Status);
            var lease = new Lease
            {
                DurationSeconds = registrant.LeaseInfo.DurationInSecs > 0 ? registrant.LeaseInfo.DurationInSecs : 90,
                RegistrationTimestamp = now,
                LastRenewalTimestamp = now,
                ServiceUpTimestamp = existing?.ServiceUpTimestamp ?? 0,
            };
            if (status == InstanceStatus.Up && lease.ServiceUpTimestamp == 0)
            {
                lease.ServiceUpTimestamp = now;
            }

            lease.Holder = registrant with
            {
                Status = status,
                ActionType = EurekaActionType.Added,
                LastUpdatedTimestamp = now,
                LastDirtyTimestamp = registrant.LastDirtyTimestamp > 0 ? registrant.LastDirtyTimestamp : now,
            };

            if (!_apps.TryGetValue(app, out var leases))
            {
                _apps[app] = leases = new Dictionary<string, Lease>(StringComparer.Ordinal);
            }

            leases[id] = lease;
            Changed(now, lease);
            return null;
        }
    }

    /// <summary>Renew (<c>PUT apps/{APP}/{id}</c>): 200, or 404 when the lease is unknown, its status resolves to UNKNOWN, or the client's lastDirtyTimestamp is newer.</summary>
    public int Renew(string app, string id, long? lastDirtyTimestamp)
    {
        lock (_lock)
        {
            var now = Now();
            EvictExpired(now);
            if (Find(app, id) is not { } lease)
            {
                return 404;
            }

            var holder = lease.Holder;
            var status = Resolve(holder.Status, id, holder.Status);
            if (status == InstanceStatus.Unknown)
            {
                return 404; // Netflix: an UNKNOWN status fails the renew, so the client registers again
            }

            lease.LastRenewalTimestamp = now;
            if (status != holder.Status)
            {
                lease.Holder = holder with { Status = status, ActionType = EurekaActionType.Modified, LastUpdatedTimestamp = now };
                Changed(now, lease);
            }

            // The client knows something newer than the server (a status change it could not send): make it register.
            return lastDirtyTimestamp is { } dirty && dirty > lease.Holder.LastDirtyTimestamp ? 404 : 200;
        }
    }

    /// <summary>Cancel (<c>DELETE apps/{APP}/{id}</c>): 200, or 404 when unknown.</summary>
    public int Cancel(string app, string id)
    {
        lock (_lock)
        {
            var now = Now();
            EvictExpired(now);
            if (Find(app, id) is null)
            {
                return 404;
            }

            Remove(app, id, now);
            return 200;
        }
    }

    /// <summary>
    /// Status override (<c>PUT apps/{APP}/{id}/status?value=</c>): 200, 404 when unknown; the value is
    /// case-sensitive and anything else is a 500, as Netflix's <c>InstanceStatus.valueOf</c> failing.
    /// As Netflix's <c>statusUpdate</c>, it renews the lease, and the instance's current status is a no-op:
    /// no override is stored and no change is queued.
    /// </summary>
    public int UpdateStatus(string app, string id, string? value, long? lastDirtyTimestamp)
    {
        if (!TryParseExact(value, out var status))
        {
            return 500;
        }

        lock (_lock)
        {
            var now = Now();
            EvictExpired(now);
            if (Find(app, id) is not { } lease)
            {
                return 404;
            }

            lease.LastRenewalTimestamp = now;
            if (lease.Holder.Status == status)
            {
                return 200;
            }

            _overrides[id] = status;
            Modify(lease, now, lastDirtyTimestamp, status, status);
            return 200;
        }
    }

    /// <summary>
    /// Removes the override (<c>DELETE apps/{APP}/{id}/status?value=</c>); without a value the status becomes
    /// UNKNOWN (the next renew is a 404). As Netflix's <c>deleteStatusOverride</c>, it renews the lease, and
    /// without an override to remove it changes nothing.
    /// </summary>
    public int DeleteStatusOverride(string app, string id, string? value, long? lastDirtyTimestamp)
    {
        var status = InstanceStatus.Unknown;
        if (value is not null && !TryParseExact(value, out status))
        {
            return 500;
        }

        lock (_lock)
        {
            var now = Now();
            EvictExpired(now);
            if (Find(app, id) is not { } lease)
            {
                return 404;
            }

            lease.LastRenewalTimestamp = now;
            if (!_overrides.Remove(id))
            {
                return 200;
            }

            Modify(lease, now, lastDirtyTimestamp, status, InstanceStatus.Unknown);
            return 200;
        }
    }

    /// <summary>Metadata update (<c>PUT apps/{APP}/{id}/metadata?k=v</c>): 200, or 404 when unknown.</summary>
    public int UpdateMetadata(string app, string id, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        lock (_lock)
        {
            var now = Now();
            EvictExpired(now);
            if (Find(app, id) is not { } lease)
            {
                return 404;
            }

            var merged = new Dictionary<string, string>(lease.Holder.Metadata, StringComparer.Ordinal);
            foreach (var (key, value) in metadata)
            {
                merged[key] = value;
            }

            lease.Holder = lease.Holder with { Metadata = merged, ActionType = EurekaActionType.Modified, LastUpdatedTimestamp = now };
            Changed(now, lease);
            return 200;
        }
    }

    /// <summary>The full registry (<c>GET apps/</c>), every status included.</summary>
    public EurekaApplications GetApplications()
    {
        lock (_lock)
        {
            EvictExpired(Now());
            return Snapshot(static _ => true);
        }
    }

    /// <summary>
    /// The changes of the last retention window (<c>GET apps/delta</c>), with the hash of the WHOLE
    /// registry. Each instance appears once, in its latest state with its latest action: Netflix's
    /// getApplicationDeltas adds every queued change to an Application keyed by instance id, so a later
    /// change replaces an earlier one (registered then taken OUT_OF_SERVICE is one MODIFIED entry).
    /// </summary>
    public EurekaApplications GetDelta()
    {
        lock (_lock)
        {
            var now = Now();
            EvictExpired(now);
            // Newest first, keeping the first change seen per id; then back to queue order, so an
            // instance sits where its latest change is, as in Netflix's ordered set of instances.
            var seen = new HashSet<(string App, string Id)>();
            var latest = new List<EurekaInstanceInfo>();
            for (var i = _recentlyChanged.Count - 1; i >= 0; i--)
            {
                var instance = _recentlyChanged[i].Instance;
                if (seen.Add((instance.App, instance.InstanceId)))
                {
                    latest.Add(instance);
                }
            }

            latest.Reverse();
            var byApp = new Dictionary<string, List<EurekaInstanceInfo>>(StringComparer.Ordinal);
            var order = new List<string>();
            foreach (var instance in latest)
            {
                if (!byApp.TryGetValue(instance.App, out var list))
                {
                    byApp[instance.App] = list = [];
                    order.Add(instance.App);
                }

                list.Add(instance);
            }

            var apps = order.Select(app => new EurekaApplication(app, byApp[app])).ToList();
            return new EurekaApplications(Version(), AppsHashCode.Compute(AllHolders()), apps);
        }
    }

    /// <summary>One application (<c>GET apps/{APP}</c>); null when unknown (404).</summary>
    public EurekaApplication? GetApplication(string app)
    {
        lock (_lock)
        {
            EvictExpired(Now());
            var name = app.ToUpperInvariant();
            return _apps.TryGetValue(name, out var leases) && leases.Count > 0
                ? new EurekaApplication(name, leases.Values.Select(l => Holder(l)).ToList())
                : null;
        }
    }

    /// <summary>One instance (<c>GET apps/{APP}/{id}</c>); null when unknown.</summary>
    public EurekaInstanceInfo? GetInstance(string app, string id)
    {
        lock (_lock)
        {
            EvictExpired(Now());
            return Find(app, id) is { } lease ? Holder(lease) : null;
        }
    }

    /// <summary>An instance by id in whichever application holds it (<c>GET instances/{id}</c>, Netflix's <c>InstancesResource</c>); null when unknown.</summary>
    public EurekaInstanceInfo? GetInstanceById(string id)
    {
        lock (_lock)
        {
            EvictExpired(Now());
            foreach (var (_, leases) in _apps.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                if (leases.TryGetValue(id, out var lease))
                {
                    return Holder(lease);
                }
            }

            return null;
        }
    }

    /// <summary>Applications behind a VIP (<c>GET vips/{vip}</c>) or secure VIP (<c>svips/</c>); empty when none.</summary>
    public EurekaApplications GetByVip(string vip, bool secure)
    {
        lock (_lock)
        {
            EvictExpired(Now());
            return Snapshot(instance => ListContains(secure ? instance.SecureVipAddress : instance.VipAddress, vip));
        }
    }

    /// <summary>Forgets everything, as a server restarted without peers would.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _apps.Clear();
            _overrides.Clear();
            _recentlyChanged.Clear();
            _version++;
        }
    }

    /// <summary>Every instance held now, for tests and the dev registry's page.</summary>
    public IReadOnlyList<EurekaInstanceInfo> Instances()
    {
        lock (_lock)
        {
            EvictExpired(Now());
            return [.. _apps.Values.SelectMany(l => l.Values).Select(l => Holder(l))];
        }
    }

    private static string? Validate(string pathApp, EurekaInstanceInfo registrant)
    {
        // Netflix's ApplicationResource.addInstance checks, with its texts.
        if (string.IsNullOrWhiteSpace(registrant.Id))
        {
            return "Missing instanceId";
        }

        if (string.IsNullOrWhiteSpace(registrant.HostName))
        {
            return "Missing hostname";
        }

        if (string.IsNullOrWhiteSpace(registrant.IpAddr))
        {
            return "Missing ip address";
        }

        if (string.IsNullOrWhiteSpace(registrant.App))
        {
            return "Missing appName";
        }

        if (!string.Equals(pathApp, registrant.App, StringComparison.OrdinalIgnoreCase))
        {
            return $"Mismatched appName, expecting {pathApp.ToUpperInvariant()} but was {registrant.App}";
        }

        if (registrant.DataCenterClass is null && registrant.DataCenterName is null)
        {
            return "Missing dataCenterInfo";
        }

        return string.IsNullOrWhiteSpace(registrant.DataCenterName) ? "Missing dataCenterInfo Name" : null;
    }

    /// <summary>
    /// Netflix's status rules: a client status of DOWN, STARTING or UNKNOWN wins; otherwise an
    /// override wins; otherwise an existing UP or OUT_OF_SERVICE is kept (a client cannot move
    /// itself between those two: that is what the override API is for); otherwise the client's.
    /// </summary>
    private InstanceStatus Resolve(InstanceStatus client, string id, InstanceStatus? existing)
    {
        if (client is not (InstanceStatus.Up or InstanceStatus.OutOfService))
        {
            return client;
        }

        if (_overrides.TryGetValue(id, out var overridden))
        {
            return overridden;
        }

        return existing is InstanceStatus.Up or InstanceStatus.OutOfService ? existing.Value : client;
    }

    private void Modify(Lease lease, long now, long? lastDirtyTimestamp, InstanceStatus status, InstanceStatus overridden)
    {
        var holder = lease.Holder;
        var dirty = lastDirtyTimestamp is { } d && d > holder.LastDirtyTimestamp ? d : holder.LastDirtyTimestamp;
        lease.Holder = holder with
        {
            Status = status,
            OverriddenStatus = overridden,
            LastDirtyTimestamp = dirty,
            ActionType = EurekaActionType.Modified,
            LastUpdatedTimestamp = now,
        };
        if (status == InstanceStatus.Up && lease.ServiceUpTimestamp == 0)
        {
            lease.ServiceUpTimestamp = now;
        }

        Changed(now, lease);
    }

    private void Remove(string app, string id, long now)
    {
        var leases = _apps[app.ToUpperInvariant()];
        var lease = leases[id];
        leases.Remove(id);
        if (leases.Count == 0)
        {
            _apps.Remove(app.ToUpperInvariant());
        }

        _overrides.Remove(id);
        lease.EvictionTimestamp = now;
        lease.Holder = lease.Holder with { ActionType = EurekaActionType.Deleted, LastUpdatedTimestamp = now };
        Changed(now, lease);
    }

    // Leases not renewed within their duration go, as DELETED changes (no self-preservation here).
    private void EvictExpired(long now)
    {
        List<(string App, string Id)>? expired = null;
        foreach (var (app, leases) in _apps)
        {
            foreach (var (id, lease) in leases)
            {
                if (now > lease.LastRenewalTimestamp + (lease.DurationSeconds * 1000L))
                {
                    (expired ??= []).Add((app, id));
                }
            }
        }

        foreach (var (app, id) in expired ?? [])
        {
            Remove(app, id, now);
        }

        // The queue keeps a change for the retention window only: older changes are in no delta.
        _recentlyChanged.RemoveAll(change => change.At < now - (long)_retention.TotalMilliseconds);
    }

    private void Changed(long now, Lease lease)
    {
        _recentlyChanged.Add((now, Holder(lease)));
        _version++;
    }

    private EurekaApplications Snapshot(Func<EurekaInstanceInfo, bool> filter)
    {
        var apps = new List<EurekaApplication>();
        foreach (var (name, leases) in _apps.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var instances = leases.Values.Select(l => Holder(l)).Where(filter).ToList();
            if (instances.Count > 0)
            {
                apps.Add(new EurekaApplication(name, instances));
            }
        }

        return new EurekaApplications(Version(), AppsHashCode.Compute(AllHolders()), apps);
    }

    private IEnumerable<EurekaInstanceInfo> AllHolders() => _apps.Values.SelectMany(l => l.Values).Select(l => l.Holder);

    // The instance as answers show it: with the lease's timestamps.
    private static EurekaInstanceInfo Holder(Lease lease) => lease.Holder with
    {
        LeaseInfo = lease.Holder.LeaseInfo with
        {
            DurationInSecs = lease.DurationSeconds,
            RegistrationTimestamp = lease.RegistrationTimestamp,
            LastRenewalTimestamp = lease.LastRenewalTimestamp,
            EvictionTimestamp = lease.EvictionTimestamp,
            ServiceUpTimestamp = lease.ServiceUpTimestamp,
        },
    };

    private Lease? Find(string app, string id) =>
        _apps.TryGetValue(app.ToUpperInvariant(), out var leases) && leases.TryGetValue(id, out var lease) ? lease : null;

    private string Version() => _version.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    private static bool ListContains(string? list, string vip)
    {
        if (string.IsNullOrEmpty(list))
        {
            return false;
        }

        foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (string.Equals(item, vip, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    // Eureka's status query values are case-sensitive (InstanceStatus.valueOf).
    private static bool TryParseExact(string? value, out InstanceStatus status)
    {
        (var ok, status) = value switch
        {
            "UP" => (true, InstanceStatus.Up),
            "DOWN" => (true, InstanceStatus.Down),
            "STARTING" => (true, InstanceStatus.Starting),
            "OUT_OF_SERVICE" => (true, InstanceStatus.OutOfService),
            "UNKNOWN" => (true, InstanceStatus.Unknown),
            _ => (false, InstanceStatus.Unknown),
        };
        return ok;
    }

    private sealed class Lease
    {
        public EurekaInstanceInfo Holder { get; set; } = new();

        public int DurationSeconds { get; init; }

        public long RegistrationTimestamp { get; init; }

        public long LastRenewalTimestamp { get; set; }

        public long ServiceUpTimestamp { get; set; }

        public long EvictionTimestamp { get; set; }
    }
}

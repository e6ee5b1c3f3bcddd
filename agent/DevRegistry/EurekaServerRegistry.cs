using Sidecar.Eureka;

namespace Sidecar.DevRegistry;

/// <summary>
/// The state of a Eureka server, in memory, single node (docs/eureka.md#server-rules-dev-registry-and-fake):
/// the leases by application, the override map, the recently-changed queue behind deltas, the version and
/// the whole-registry hash, under one lock. The rules are small types with no I/O: <see cref="RegistrantValidator"/>
/// (what a registration must carry), <see cref="EurekaStatusRules"/> (Netflix's status resolution and
/// lastDirtyTimestamp rules), <see cref="ServerLease"/> (duration, expiry, renewal, eviction),
/// <see cref="DeltaQueue"/> (retention, latest change per instance) and <see cref="VipAddresses"/>. It serves
/// the <c>agent registry</c> command (development only) and, with fault switches around it, the tests'
/// fake Eureka. No replication, no self-preservation, no persistence.
/// </summary>
internal sealed class EurekaServerRegistry(TimeProvider time, TimeSpan? deltaRetention = null)
{
    /// <summary>How long a change stays in deltas: about 3 minutes, as Netflix's retention.</summary>
    public static readonly TimeSpan DefaultDeltaRetention = TimeSpan.FromMinutes(3);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Dictionary<string, ServerLease>> _apps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, InstanceStatus> _overrides = new(StringComparer.Ordinal);
    private readonly DeltaQueue _recentlyChanged = new(deltaRetention ?? DefaultDeltaRetention);
    private long _version = 1;

    /// <summary>Register (<c>POST apps/{APP}</c>): null when accepted (204), else the 400 text.</summary>
    public string? Register(string pathApp, EurekaInstanceInfo registrant)
    {
        if (RegistrantValidator.Validate(pathApp, registrant) is { } error)
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
            if (existing is not null && EurekaStatusRules.KeepsExisting(existing.Holder.LastDirtyTimestamp, registrant.LastDirtyTimestamp))
            {
                registrant = existing.Holder;
            }

            // The override a client carries is taken over only when the server has none.
            if (EurekaStatusRules.OverrideAfterRegister(Override(id), registrant.OverriddenStatus) is { } overridden)
            {
                _overrides[id] = overridden;
                registrant = registrant with { OverriddenStatus = overridden };
            }

            var status = EurekaStatusRules.Resolve(registrant.Status, Override(id), existing?.Holder.Status);
            var lease = ServerLease.Register(registrant, status, existing, now);
            if (!_apps.TryGetValue(app, out var leases))
            {
                _apps[app] = leases = new Dictionary<string, ServerLease>(StringComparer.Ordinal);
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
            var status = EurekaStatusRules.Resolve(holder.Status, Override(id), holder.Status);
            if (status == InstanceStatus.Unknown)
            {
                return 404; // Netflix: an UNKNOWN status fails the renew, so the client registers again
            }

            lease.Renew(now);
            if (status != holder.Status)
            {
                lease.Holder = holder with { Status = status, ActionType = EurekaActionType.Modified, LastUpdatedTimestamp = now };
                Changed(now, lease);
            }

            // The client knows something newer than the server (a status change it could not send): make it register.
            return EurekaStatusRules.RenewAsksToRegister(lastDirtyTimestamp, lease.Holder.LastDirtyTimestamp) ? 404 : 200;
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
        if (!EurekaStatusRules.TryParseExact(value, out var status))
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

            lease.Renew(now);
            if (lease.Holder.Status == status)
            {
                return 200;
            }

            _overrides[id] = status;
            lease.SetStatus(now, lastDirtyTimestamp, status, status);
            Changed(now, lease);
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
        if (value is not null && !EurekaStatusRules.TryParseExact(value, out status))
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

            lease.Renew(now);
            if (!_overrides.Remove(id))
            {
                return 200;
            }

            lease.SetStatus(now, lastDirtyTimestamp, status, InstanceStatus.Unknown);
            Changed(now, lease);
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
            return new EurekaApplications(Version(), AppsHashCode.Compute(AllHolders()), _recentlyChanged.Latest());
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
                ? new EurekaApplication(name, leases.Values.Select(l => l.Shown()).ToList())
                : null;
        }
    }

    /// <summary>One instance (<c>GET apps/{APP}/{id}</c>); null when unknown.</summary>
    public EurekaInstanceInfo? GetInstance(string app, string id)
    {
        lock (_lock)
        {
            EvictExpired(Now());
            return Find(app, id) is { } lease ? lease.Shown() : null;
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
                    return lease.Shown();
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
            return Snapshot(instance => VipAddresses.Contains(secure ? instance.SecureVipAddress : instance.VipAddress, vip));
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
            return [.. _apps.Values.SelectMany(l => l.Values).Select(l => l.Shown())];
        }
    }

    private InstanceStatus? Override(string id) => _overrides.TryGetValue(id, out var overridden) ? overridden : null;

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
        lease.Evict(now);
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
                if (lease.IsExpired(now))
                {
                    (expired ??= []).Add((app, id));
                }
            }
        }

        foreach (var (app, id) in expired ?? [])
        {
            Remove(app, id, now);
        }

        _recentlyChanged.Expire(now);
    }

    private void Changed(long now, ServerLease lease)
    {
        _recentlyChanged.Add(now, lease.Shown());
        _version++;
    }

    private EurekaApplications Snapshot(Func<EurekaInstanceInfo, bool> filter)
    {
        var apps = new List<EurekaApplication>();
        foreach (var (name, leases) in _apps.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var instances = leases.Values.Select(l => l.Shown()).Where(filter).ToList();
            if (instances.Count > 0)
            {
                apps.Add(new EurekaApplication(name, instances));
            }
        }

        return new EurekaApplications(Version(), AppsHashCode.Compute(AllHolders()), apps);
    }

    private IEnumerable<EurekaInstanceInfo> AllHolders() => _apps.Values.SelectMany(l => l.Values).Select(l => l.Holder);

    private ServerLease? Find(string app, string id) =>
        _apps.TryGetValue(app.ToUpperInvariant(), out var leases) && leases.TryGetValue(id, out var lease) ? lease : null;

    private string Version() => _version.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();
}

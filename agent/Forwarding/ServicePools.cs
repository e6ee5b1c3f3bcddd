using System.Collections.Concurrent;
using Sidecar.Discovery;

namespace Sidecar.Forwarding;

/// <summary>
/// The forwarder's view of the <see cref="ServiceCatalog"/>: one <see cref="ServicePool"/> per service
/// name asked for, rebuilt only when the catalog's version moves. Only names the catalog knows get a
/// pool, so hostile host names cannot grow this cache; and what a service left behind (its pool, its
/// balancing and ejection state, its counters and series) is freed by <see cref="Sweep"/> once no
/// source has known it for <see cref="Retention"/>, so services coming and going cannot grow it either.
/// </summary>
internal sealed class ServicePools(ServiceCatalog catalog, ForwardingOptions options, TimeProvider time, ForwardingLog log, SelfAddresses self, ForwardingMetrics? metrics = null)
{
    private readonly ConcurrentDictionary<string, ServicePool> _pools = new(StringComparer.OrdinalIgnoreCase);

    // Guarded by itself (the sweeper's only): when a name with a pool or counters was first seen gone from the catalog.
    private readonly Dictionary<string, long> _goneSince = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>How long the state of a service that left the catalog is kept (<see cref="ForwardingOptions.ServiceRetention"/>).</summary>
    public TimeSpan Retention => options.ServiceRetention;

    /// <summary>The response cache shared by every service with <c>Cache=true</c> (docs/resilience.md#response-cache).</summary>
    public ResponseCache Cache { get; } = new(options.CacheMaxBytes, time);

    /// <summary>The forwarding counters of every service (and of unknown names).</summary>
    public ForwardingMetrics Metrics { get; } = metrics ?? new ForwardingMetrics();

    public ServiceCatalog Catalog => catalog;

    /// <summary>The pools made so far (services that were called), for metrics and the status page; never creates one.</summary>
    public ICollection<ServicePool> All => _pools.Values;

    /// <summary>The pool of a service if one was made (it may lag the catalog until the next call); never creates one.</summary>
    public ServicePool? Peek(string name) => _pools.GetValueOrDefault(name);

    /// <summary>The pool of a known service, up to date with the catalog; null when no source knows the name.</summary>
    public ServicePool? Find(string name)
    {
        var version = catalog.Version;
        if (_pools.TryGetValue(name, out var pool) && pool.Version == version)
        {
            return pool;
        }

        var instances = catalog.GetInstances(name);
        if (instances is null)
        {
            if (pool is not null)
            {
                _pools.TryRemove(name, out _);
            }

            return null;
        }

        pool ??= _pools.GetOrAdd(name, static (key, pools) => pools.Create(key), this);
        pool.Update(self.Without(instances), version); // only when the catalog moved: the common path has returned above
        return pool;
    }

    /// <summary>
    /// Whether <paramref name="pool"/>, which <see cref="Find"/> returned, is still what it returns for its name: up to date
    /// with the catalog. A pool leaves the map only when its service left the catalog (here, or in <see cref="Sweep"/>),
    /// which moves the catalog's version; so a pool last updated at the current version is the map's. The forwarding core
    /// keeps a connection's last pool with it and asks this instead of hashing the name again
    /// (docs/performance.md#small-steps-on-the-cores-call-2026-12-04-fourth-session).
    /// </summary>
    public bool IsCurrent(ServicePool pool) => pool.Version == catalog.Version;

    /// <summary>
    /// Frees the pool and the counters of every service no source has known for <see cref="Retention"/>
    /// (docs/forwarding.md#services-that-leave); returns how many services were freed. Called by
    /// <see cref="ServicePoolSweeper"/>, off the request path. A service that comes back meanwhile keeps everything.
    /// </summary>
    public int Sweep()
    {
        var now = time.GetTimestamp();
        var freed = 0;
        lock (_goneSince)
        {
            var names = new HashSet<string>(_pools.Keys, StringComparer.OrdinalIgnoreCase);
            names.UnionWith(Metrics.Services);
            foreach (var name in names)
            {
                if (catalog.GetInstances(name) is not null)
                {
                    _goneSince.Remove(name);
                    continue;
                }

                if (!_goneSince.TryGetValue(name, out var since))
                {
                    _goneSince[name] = now;
                    continue;
                }

                if (time.GetElapsedTime(since, now) >= Retention)
                {
                    _pools.TryRemove(name, out _);
                    Metrics.Remove(name);
                    _goneSince.Remove(name);
                    freed++;
                }
            }

            // Names freed another way (Find dropped the pool and no counters were kept) are forgotten too.
            if (_goneSince.Count > names.Count)
            {
                foreach (var name in _goneSince.Keys.Where(n => !names.Contains(n)).ToList())
                {
                    _goneSince.Remove(name);
                }
            }
        }

        return freed;
    }

    private ServicePool Create(string name)
    {
        var lower = name.ToLowerInvariant();
        var policy = options.PolicyFor(name);
        return new(lower, policy, options.Zone, time, log, Metrics.For(lower), policy.Resilience.Cache ? Cache : null);
    }
}

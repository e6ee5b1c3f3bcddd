using System.Collections.Concurrent;
using Sidecar.Discovery;
using Sidecar.Observability;

namespace Sidecar.Forwarding;

/// <summary>
/// The forwarder's view of the <see cref="ServiceCatalog"/>: one <see cref="ServicePool"/> per service
/// name asked for, rebuilt only when the catalog's version moves. Only names the catalog knows get a
/// pool, so hostile host names cannot grow this cache.
/// </summary>
internal sealed class ServicePools(ServiceCatalog catalog, ForwardingOptions options, TimeProvider time, ForwardingLog log, SelfAddresses self, ForwardingMetrics? metrics = null)
{
    private readonly ConcurrentDictionary<string, ServicePool> _pools = new(StringComparer.OrdinalIgnoreCase);

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

    private ServicePool Create(string name)
    {
        var lower = name.ToLowerInvariant();
        return new(lower, options.PolicyFor(name), options.Zone, time, log, Metrics.For(lower));
    }
}

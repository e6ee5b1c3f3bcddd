using System.Collections.Concurrent;
using Prometheus;
using Sidecar.Observability;

namespace Sidecar.Forwarding;

/// <summary>
/// Every service's <see cref="ServiceMetrics"/>. A cell is made only for a name the catalog knows
/// (see <c>ServicePools</c>), so hostile host names and paths never become label values; requests
/// for names nobody knows count under <see cref="Unknown"/>. At most <see cref="MaxServices"/> services
/// have cells of their own; services called beyond that count together under <see cref="Other"/>, so
/// the number of series stays bounded however many services come and go. A service that left the
/// catalog loses its cell (and its series) after <c>ServicePools.Retention</c>: until then its counters
/// go on where they were, should it come back (docs/observability.md#metrics-get-metrics).
/// </summary>
internal sealed class ForwardingMetrics(AgentEventLog? events = null, Histogram? latency = null)
{
    public const string UnknownService = "unknown";

    public const string OtherServices = "other";

    /// <summary>Most services with series of their own (about 30 series each); the rest count under <see cref="OtherServices"/>.</summary>
    public const int MaxServices = 200;

    private readonly ConcurrentDictionary<string, ServiceMetrics> _services = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _lock = new();
    private ServiceMetrics? _other;

    /// <summary>Requests for services no source knows.</summary>
    public ServiceMetrics Unknown { get; } = new(UnknownService, events);

    /// <summary>The cell of a service the catalog knows; <see cref="OtherServices"/>' once <see cref="MaxServices"/> services have cells.</summary>
    public ServiceMetrics For(string service)
    {
        if (string.Equals(service, UnknownService, StringComparison.OrdinalIgnoreCase))
        {
            return Unknown;
        }

        if (_services.TryGetValue(service, out var cell))
        {
            return cell;
        }

        lock (_lock)
        {
            if (_services.TryGetValue(service, out cell))
            {
                return cell;
            }

            if (_services.Count >= MaxServices || string.Equals(service, OtherServices, StringComparison.OrdinalIgnoreCase))
            {
                return _other ??= Create(OtherServices);
            }

            return _services[service] = Create(service);
        }
    }

    /// <summary>The names of the services with cells of their own.</summary>
    public ICollection<string> Services => _services.Keys;

    /// <summary>Drops a service's cell and its latency series (a service gone for good); the next call to it starts a new one.</summary>
    public void Remove(string service)
    {
        lock (_lock)
        {
            if (_services.TryRemove(service, out var cell))
            {
                latency?.WithLabels(cell.Name).Remove();
            }
        }
    }

    /// <summary>Every cell, <see cref="Unknown"/> (and <see cref="OtherServices"/>' once used) included, sorted by name.</summary>
    public IReadOnlyList<ServiceMetrics> All()
    {
        var all = new List<ServiceMetrics>(_services.Values) { Unknown };
        if (Volatile.Read(ref _other) is { } other)
        {
            all.Add(other);
        }

        all.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return all;
    }

    private ServiceMetrics Create(string name)
    {
        var label = name.ToLowerInvariant();
        return new ServiceMetrics(label, events, latency?.WithLabels(label));
    }
}

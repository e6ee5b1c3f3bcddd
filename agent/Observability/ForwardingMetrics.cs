using System.Collections.Concurrent;
using Prometheus;

namespace Sidecar.Observability;

/// <summary>
/// Every service's <see cref="ServiceMetrics"/>. A cell is made only for a name the catalog knows
/// (see <c>ServicePools</c>), so hostile host names and paths never become label values; requests
/// for names nobody knows count under <see cref="Unknown"/>. Cells outlive a service leaving the
/// catalog: Prometheus counters must never go back.
/// </summary>
internal sealed class ForwardingMetrics(AgentEventLog? events = null, Histogram? latency = null)
{
    public const string UnknownService = "unknown";

    private readonly ConcurrentDictionary<string, ServiceMetrics> _services = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Requests for services no source knows.</summary>
    public ServiceMetrics Unknown { get; } = new(UnknownService, events);

    /// <summary>The cell of a service the catalog knows.</summary>
    public ServiceMetrics For(string service) =>
        string.Equals(service, UnknownService, StringComparison.OrdinalIgnoreCase)
            ? Unknown
            : _services.GetOrAdd(service, static (name, state) =>
            {
                var label = name.ToLowerInvariant();
                return new ServiceMetrics(label, state.events, state.latency?.WithLabels(label));
            }, (events, latency));

    /// <summary>Every cell, <see cref="Unknown"/> included, sorted by name.</summary>
    public IReadOnlyList<ServiceMetrics> All()
    {
        var all = new List<ServiceMetrics>(_services.Values) { Unknown };
        all.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return all;
    }
}

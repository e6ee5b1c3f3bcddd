using Sidecar.Eureka;

namespace Sidecar.DevRegistry;

/// <summary>
/// The recently-changed queue behind <c>GET apps/delta</c> (docs/eureka.md#server-rules-dev-registry-and-fake):
/// every change with its time, kept for the retention window. No I/O and no lock of its own:
/// <see cref="EurekaServerRegistry"/> calls it under its lock.
/// </summary>
internal sealed class DeltaQueue(TimeSpan retention)
{
    private readonly List<(long At, EurekaInstanceInfo Instance)> _changes = [];

    /// <summary>How many changes are queued (for tests).</summary>
    public int Count => _changes.Count;

    public void Add(long at, EurekaInstanceInfo instance) => _changes.Add((at, instance));

    /// <summary>The queue keeps a change for the retention window only: older changes are in no delta.</summary>
    public void Expire(long now) => _changes.RemoveAll(change => change.At < now - (long)retention.TotalMilliseconds);

    public void Clear() => _changes.Clear();

    /// <summary>
    /// The delta's applications: each instance once, in its latest state with its latest action (Netflix's
    /// getApplicationDeltas adds every queued change to an Application keyed by instance id, so a later change
    /// replaces an earlier one: registered then taken OUT_OF_SERVICE is one MODIFIED entry). An instance sits
    /// where its latest change is, as in Netflix's ordered set of instances; applications in the order of their
    /// first such instance.
    /// </summary>
    public List<EurekaApplication> Latest()
    {
        // Newest first, keeping the first change seen per id; then back to queue order.
        var seen = new HashSet<(string App, string Id)>();
        var latest = new List<EurekaInstanceInfo>();
        for (var i = _changes.Count - 1; i >= 0; i--)
        {
            var instance = _changes[i].Instance;
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

        return order.Select(app => new EurekaApplication(app, byApp[app])).ToList();
    }
}

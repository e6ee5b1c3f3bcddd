using Sidecar.Health;

namespace Sidecar.AppConfig;

/// <summary>
/// The config the agent serves and where it came from. Only the refresher writes; requests read
/// <see cref="Current"/> (a reference read, never a wait on the Config Server). A new snapshot is
/// published only when the content really changed: only then does the version grow and do
/// long-polls wake (docs/config-server.md#refresh).
/// </summary>
internal sealed class AppConfigStore
{
    private readonly Lock _publishing = new();
    private AppConfigSnapshot _current = new(0, new Dictionary<string, string>());
    private ReadinessResult _status = new(false, "loading");

    public AppConfigSnapshot Current => Volatile.Read(ref _current);

    /// <summary>
    /// Where the served config comes from, for the <c>config</c> entry of <c>/v1/health</c>: one line
    /// starting with the source (<c>server:</c>, <c>last-known-good:</c>, <c>file:</c>, <c>none:</c>,
    /// <c>unavailable:</c>); not ready only while a Config Server is configured and neither it nor a
    /// saved copy ever gave a config.
    /// </summary>
    public ReadinessResult Status
    {
        get
        {
            lock (_publishing)
            {
                return _status;
            }
        }

        set
        {
            lock (_publishing)
            {
                _status = value;
            }
        }
    }

    /// <summary>Serves <paramref name="values"/> as version <paramref name="version"/> (the first load, which may continue a saved version).</summary>
    public AppConfigSnapshot Initialize(IReadOnlyDictionary<string, string> values, long version)
    {
        lock (_publishing)
        {
            var previous = _current;
            var next = new AppConfigSnapshot(version, values);
            Volatile.Write(ref _current, next);
            previous.MarkSuperseded();
            return next;
        }
    }

    /// <summary>Publishes <paramref name="values"/> as the next version when they differ from the current ones.</summary>
    /// <returns>The change (key names only), or null when the content is the same.</returns>
    public AppConfigChange? Publish(IReadOnlyDictionary<string, string> values)
    {
        lock (_publishing)
        {
            var previous = _current;
            if (values.Count == previous.Values.Count && AppConfigSnapshot.Hash(values) == previous.ContentHash)
            {
                return null;
            }

            var next = new AppConfigSnapshot(previous.Version + 1, values);
            Volatile.Write(ref _current, next);
            previous.MarkSuperseded();
            return AppConfigChange.Between(previous, next);
        }
    }
}

/// <summary>What changed between two versions, by key name only: values never reach the log (docs/config-server.md#values-and-the-log).</summary>
internal sealed record AppConfigChange(long PreviousVersion, long Version, IReadOnlyList<string> Added, IReadOnlyList<string> Changed, IReadOnlyList<string> Removed)
{
    public static AppConfigChange Between(AppConfigSnapshot previous, AppConfigSnapshot next)
    {
        var added = new List<string>();
        var changed = new List<string>();
        var removed = new List<string>();
        foreach (var key in next.Keys)
        {
            if (!previous.Values.TryGetValue(key, out var old))
            {
                added.Add(key);
            }
            else if (!string.Equals(old, next.Values[key], StringComparison.Ordinal))
            {
                changed.Add(key);
            }
        }

        foreach (var key in previous.Keys)
        {
            if (!next.Values.ContainsKey(key))
            {
                removed.Add(key);
            }
        }

        return new AppConfigChange(previous.Version, next.Version, added, changed, removed);
    }
}

namespace Sidecar.AppConfig;

/// <summary>How a config refresh ended.</summary>
internal enum ConfigRefreshOutcome
{
    /// <summary>A new version was published.</summary>
    Changed,

    /// <summary>Read fine, same content.</summary>
    Unchanged,

    /// <summary>The Config Server (or the file) could not be read; the served config stays.</summary>
    Failed,
}

/// <summary>Config refreshes by outcome, and the version being served with the time it went live.</summary>
internal sealed class ConfigMetrics
{
    public static readonly string[] OutcomeLabels = ["changed", "unchanged", "failed"];

    private readonly long[] _refreshes = new long[OutcomeLabels.Length];
    private VersionSeen? _current;

    /// <summary>The version served and since when (set by <see cref="AgentObserver"/>); null before the first load.</summary>
    public VersionSeen? Current => Volatile.Read(ref _current);

    public void Refreshed(ConfigRefreshOutcome outcome) => Interlocked.Increment(ref _refreshes[(int)outcome]);

    public long Count(ConfigRefreshOutcome outcome) => Volatile.Read(ref _refreshes[(int)outcome]);

    internal void Serving(long version, DateTimeOffset since) => Volatile.Write(ref _current, new VersionSeen(version, since));

    internal sealed record VersionSeen(long Version, DateTimeOffset Since);
}


namespace Sidecar.AppConfig;

/// <summary>What the first load serves when a Config Server is configured (docs/config-server.md#start).</summary>
internal enum FirstLoad
{
    /// <summary>A server answered: its config goes live.</summary>
    Server,

    /// <summary>No server answered and there is no saved copy: the seed file stands in for the server.</summary>
    Seed,

    /// <summary>No server answered: the last-known-good copy is served.</summary>
    LastKnownGood,

    /// <summary>No server answered, no copy, no seed, fail-fast: the start fails.</summary>
    FailStart,

    /// <summary>No server answered, no copy, no seed: the file alone (or nothing) is served, not ready, and polling goes on.</summary>
    NoConfig,
}

/// <summary>
/// The first load's rules (docs/config-server.md#start), with no I/O: how many attempts (Steeltoe's
/// retry, with fail-fast only), the wait after a failed one, what is served when they end, the refresh
/// it counts as, and the version the config goes on from.
/// </summary>
internal static class FirstLoadDecider
{
    /// <summary>Attempts in all: the retry's with fail-fast, one without.</summary>
    public static int Attempts(bool failFast, ConfigRetryOptions retry) => failFast ? retry.MaxAttempts : 1;

    /// <summary>The wait before the next attempt after attempt <paramref name="attempt"/> (1-based); null when the load ends there.</summary>
    public static TimeSpan? RetryAfter(int attempt, int attempts, bool succeeded, ConfigRetryOptions retry) =>
        succeeded || attempt >= attempts ? null : retry.DelayAfter(attempt);

    /// <summary>What is served: a server's answer, else the saved copy (it was the server's), else the seed, else nothing (or a failed start with fail-fast).</summary>
    public static FirstLoad Decide(bool fetched, bool hasCopy, bool hasSeed, bool failFast) => (fetched, hasCopy, hasSeed, failFast) switch
    {
        (true, _, _, _) => FirstLoad.Server,
        (false, false, true, _) => FirstLoad.Seed,
        (false, true, _, _) => FirstLoad.LastKnownGood,
        (false, false, false, true) => FirstLoad.FailStart,
        _ => FirstLoad.NoConfig,
    };

    /// <summary>The first load counts as one refresh, whatever the retries: changed when a config went live, failed when no server gave one.</summary>
    public static ConfigRefreshOutcome Outcome(bool fetched) => fetched ? ConfigRefreshOutcome.Changed : ConfigRefreshOutcome.Failed;

    /// <summary>
    /// The version the config starts at: 1 without a saved copy; the copy's when the content is the same
    /// (the same content keeps its version and ETag across a restart), the next one when it is not.
    /// </summary>
    public static long ContinueVersion(long? savedVersion, string? savedEffectiveHash, string effectiveHash)
    {
        if (savedVersion is not { } version)
        {
            return 1;
        }

        return effectiveHash == savedEffectiveHash ? Math.Max(version, 1) : version + 1;
    }

    /// <summary>The one line a fail-fast start ends with.</summary>
    public static string FailFastMessage(int attempts, string? error, string copyPath) =>
        $"CONFIG_FAIL_FAST: no config from the Config Server after {attempts} attempt{(attempts == 1 ? "" : "s")} " +
        $"({error}) and no last-known-good copy in {copyPath}";
}


namespace Sidecar.AppConfig;

/// <summary>What a failure streak's step logs (docs/config-server.md#refresh).</summary>
internal enum FailureNote
{
    /// <summary>It read fine, as before: nothing to say.</summary>
    None,

    /// <summary>The first failure: a warning.</summary>
    First,

    /// <summary>It still fails: a debug line.</summary>
    Repeat,

    /// <summary>It reads again after failing: an information line.</summary>
    Recovered,
}

/// <summary>Whether the poll loop runs.</summary>
internal enum PollPlan
{
    /// <summary>Neither a server nor a file: nothing to re-read.</summary>
    NothingToRead,

    /// <summary><c>CONFIG_POLL_INTERVAL=0</c>: said once, no loop.</summary>
    PollingOff,

    /// <summary>Re-read every poll interval.</summary>
    Poll,
}

/// <summary>
/// A refresh's rules (docs/config-server.md#refresh), with no I/O: whether the loop polls, how a
/// refresh counts, and what the server's or the file's failure streak logs.
/// </summary>
internal static class ConfigRefreshDecider
{
    /// <summary>Whether the loop polls: not without a server or a file, nor with a poll interval of zero.</summary>
    public static PollPlan Plan(bool usesServer, bool hasFile, TimeSpan pollInterval) =>
        !usesServer && !hasFile ? PollPlan.NothingToRead
        : pollInterval <= TimeSpan.Zero ? PollPlan.PollingOff
        : PollPlan.Poll;

    /// <summary>How a refresh counts: changed when a new version went live, else failed when the server or the file could not be read, else unchanged.</summary>
    public static ConfigRefreshOutcome Outcome(bool changed, bool failed) =>
        changed ? ConfigRefreshOutcome.Changed : failed ? ConfigRefreshOutcome.Failed : ConfigRefreshOutcome.Unchanged;

    /// <summary>
    /// The step of a failure streak, from the last error (null when the last read was fine) and this read's
    /// (null when it was fine): a broken server or file would otherwise warn at every poll.
    /// </summary>
    public static FailureNote Note(string? lastError, string? error) => (lastError, error) switch
    {
        (null, null) => FailureNote.None,
        (null, not null) => FailureNote.First,
        (not null, not null) => FailureNote.Repeat,
        (not null, null) => FailureNote.Recovered,
    };
}

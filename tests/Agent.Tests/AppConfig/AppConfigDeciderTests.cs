using Sidecar.AppConfig;
using Sidecar.Observability;

namespace Sidecar.Tests.AppConfig;

/// <summary>
/// The app config's rules as tables: the first load (<see cref="FirstLoadDecider"/>), a refresh
/// (<see cref="ConfigRefreshDecider"/>) and the last-known-good copy (<see cref="LastKnownGoodDecider"/>).
/// No files, no server, no clock.
/// </summary>
[Trait("Category", "Unit")]
public sealed class AppConfigDeciderTests
{
    [Theory]
    //          fetched  copy   seed   fail-fast  served
    [InlineData(true,    false, false, false,     "Server")]
    [InlineData(true,    true,  true,  true,      "Server")]        // a server's answer wins over everything
    [InlineData(false,   false, true,  false,     "Seed")]
    [InlineData(false,   false, true,  true,      "Seed")]          // the seed saves a fail-fast start
    [InlineData(false,   true,  true,  false,     "LastKnownGood")] // the copy was the server's: it wins over the seed
    [InlineData(false,   true,  false, true,      "LastKnownGood")]
    [InlineData(false,   true,  false, false,     "LastKnownGood")]
    [InlineData(false,   false, false, true,      "FailStart")]
    [InlineData(false,   false, false, false,     "NoConfig")]
    public void FirstLoad_ServesTheServerElseTheCopyElseTheSeed(bool fetched, bool hasCopy, bool hasSeed, bool failFast, string served)
    {
        Assert.Equal(Enum.Parse<FirstLoad>(served), FirstLoadDecider.Decide(fetched, hasCopy, hasSeed, failFast));
        Assert.Equal(fetched ? ConfigRefreshOutcome.Changed : ConfigRefreshOutcome.Failed, FirstLoadDecider.Outcome(fetched));
    }

    [Theory]
    //          fail-fast  max attempts  attempt  succeeded  wait (ms; -1: the load ends)
    [InlineData(false,     6,            1,       false,     -1)]   // one attempt without fail-fast
    [InlineData(true,      6,            1,       true,      -1)]
    [InlineData(true,      6,            1,       false,     1000)]
    [InlineData(true,      6,            2,       false,     1100)]
    [InlineData(true,      6,            3,       false,     1210)]
    [InlineData(true,      6,            4,       false,     1331)]
    [InlineData(true,      6,            5,       false,     1464)]
    [InlineData(true,      6,            6,       false,     -1)]
    [InlineData(true,      1,            1,       false,     -1)]
    [InlineData(true,      10,           9,       false,     2000)]  // the waits stop growing at MaxInterval
    public void FirstLoad_RetriesOnlyWithFailFast(bool failFast, int maxAttempts, int attempt, bool succeeded, int waitMs)
    {
        var retry = new ConfigRetryOptions { MaxAttempts = maxAttempts };
        var attempts = FirstLoadDecider.Attempts(failFast, retry);

        var wait = FirstLoadDecider.RetryAfter(attempt, attempts, succeeded, retry);

        Assert.Equal(failFast ? maxAttempts : 1, attempts);
        Assert.Equal(waitMs < 0 ? null : TimeSpan.FromMilliseconds(waitMs), wait);
    }

    [Theory]
    //          saved version  saved hash  served hash  version
    [InlineData(null,          null,       "aaa",       1L)]   // no copy: the first version
    [InlineData(7L,            "aaa",      "aaa",       7L)]   // the same content keeps its version (and ETag)
    [InlineData(7L,            "aaa",      "bbb",       8L)]   // new content: the next one
    [InlineData(0L,            "aaa",      "aaa",       1L)]   // never below 1
    [InlineData(0L,            "aaa",      "bbb",       1L)]
    public void FirstLoad_VersionGoesOnFromTheCopy(long? savedVersion, string? savedHash, string servedHash, long version) =>
        Assert.Equal(version, FirstLoadDecider.ContinueVersion(savedVersion, savedHash, servedHash));

    [Theory]
    [InlineData(1, "CONFIG_FAIL_FAST: no config from the Config Server after 1 attempt (down) and no last-known-good copy in /d/config.lkg")]
    [InlineData(6, "CONFIG_FAIL_FAST: no config from the Config Server after 6 attempts (down) and no last-known-good copy in /d/config.lkg")]
    public void FirstLoad_FailFastSaysItInOneLine(int attempts, string message) =>
        Assert.Equal(message, FirstLoadDecider.FailFastMessage(attempts, "down", "/d/config.lkg"));

    [Theory]
    //          server  file   poll (s)  plan
    [InlineData(false,  false, 30,       "NothingToRead")]
    [InlineData(false,  false, 0,        "NothingToRead")]
    [InlineData(true,   false, 0,        "PollingOff")]
    [InlineData(false,  true,  0,        "PollingOff")]
    [InlineData(false,  true,  -1,       "PollingOff")]
    [InlineData(true,   false, 30,       "Poll")]
    [InlineData(false,  true,  1,        "Poll")]
    [InlineData(true,   true,  30,       "Poll")]
    public void Refresh_PollsOnlyWithSomethingToReadAndAnInterval(bool server, bool file, int pollSeconds, string plan) =>
        Assert.Equal(Enum.Parse<PollPlan>(plan), ConfigRefreshDecider.Plan(server, file, TimeSpan.FromSeconds(pollSeconds)));

    [Theory]
    //          changed  failed  outcome
    [InlineData(true,    false,  "Changed")]
    [InlineData(true,    true,   "Changed")]   // the file changed while the server failed: a new version went live
    [InlineData(false,   true,   "Failed")]
    [InlineData(false,   false,  "Unchanged")]
    public void Refresh_CountsAsChangedElseFailedElseUnchanged(bool changed, bool failed, string outcome) =>
        Assert.Equal(Enum.Parse<ConfigRefreshOutcome>(outcome), ConfigRefreshDecider.Outcome(changed, failed));

    [Theory]
    //          last error  this error  note
    [InlineData(null,       null,       "None")]
    [InlineData(null,       "down",     "First")]       // a warning
    [InlineData("down",     "down",     "Repeat")]      // a debug line, not a warning every poll
    [InlineData("down",     "refused",  "Repeat")]
    [InlineData("down",     null,       "Recovered")]   // an information line
    public void Refresh_FailureStreakWarnsOnceThenSaysTheRecovery(string? lastError, string? error, string note) =>
        Assert.Equal(Enum.Parse<FailureNote>(note), ConfigRefreshDecider.Note(lastError, error));

    [Theory]
    //          saved (version/hash/server version; "": none)  answer          answer keys  saved keys  decision
    [InlineData("",                                           "3/h1/v1",        5,           0,          "Save")]
    [InlineData("3/h1/v1",                                    "3/h1/v1",        5,           5,          "AlreadySaved")]
    [InlineData("3/h1/v1",                                    "4/h1/v1",        5,           5,          "Save")]     // a new config version (the file changed)
    [InlineData("3/h1/v1",                                    "3/h2/v1",        5,           5,          "Save")]
    [InlineData("3/h1/v1",                                    "3/h1/v2",        5,           5,          "Save")]     // a new server version, same values
    [InlineData("3/h1/v1",                                    "3/h1/",          5,           5,          "Save")]
    [InlineData("3/h1/v1",                                    "4/empty/v2",     0,           5,          "KeepCopyWithKeys")]
    [InlineData("",                                           "1/empty/v2",     0,           0,          "Save")]     // nothing with keys to keep
    [InlineData("3/empty/v1",                                 "4/empty/v2",     0,           0,          "Save")]
    [InlineData("3/empty/v1",                                 "3/empty/v1",     0,           0,          "AlreadySaved")]
    public void LastKnownGood_SavesChangesButNeverAnEmptyAnswerOverKeys(string saved, string answer, int answerKeys, int savedKeys, string decision) =>
        Assert.Equal(Enum.Parse<CopySave>(decision), LastKnownGoodDecider.Decide(Key(saved), Key(answer)!.Value, answerKeys, savedKeys));

    [Theory]
    //          answer keys  empty streak  warn
    [InlineData(0,           false,        true)]
    [InlineData(0,           true,         false)]  // once per streak
    [InlineData(3,           false,        false)]
    [InlineData(3,           true,         false)]
    public void LastKnownGood_WarnsOfAnEmptyAnswerOncePerStreak(int keys, bool streak, bool warn) =>
        Assert.Equal(warn, LastKnownGoodDecider.WarnEmpty(keys, streak));

    [Theory]
    [InlineData(0, "there is no last-known-good copy with keys to keep")]
    [InlineData(12, "the last-known-good copy keeps its 12 keys")]
    public void LastKnownGood_EmptyAnswerWarningNamesTheCopy(int savedKeys, string note) =>
        Assert.Equal(note, LastKnownGoodDecider.CopyNote(savedKeys));

    private static SavedCopyKey? Key(string text)
    {
        if (text.Length == 0)
        {
            return null;
        }

        var parts = text.Split('/');
        return new SavedCopyKey(long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), parts[1], parts[2].Length == 0 ? null : parts[2]);
    }
}

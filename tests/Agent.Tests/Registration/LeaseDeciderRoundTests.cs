using Sidecar.Registration;
using static Sidecar.Tests.Registration.LeaseTable;

namespace Sidecar.Tests.Registration;

/// <summary>
/// What one round of the lease sends, from the state and the app's wish (<see cref="LeaseDecider.Next"/>):
/// register, renew, read back, a status change, or a wait. The words are <see cref="LeaseTable"/>'s.
/// </summary>
[Trait("Category", "Unit")]
public sealed class LeaseDeciderRoundTests
{
    [Theory]
    //          given                                   wish                 decision                          notes                               changes
    // No lease: register at once, or when the retry after a failure is due; a registration is not rate-limited.
    [InlineData("new",                                  "STARTING",          "register STARTING",              "",                                 "")]
    [InlineData("new",                                  "OUT_OF_SERVICE",    "register OUT_OF_SERVICE!",       "",                                 "")]
    [InlineData("lost lease, retry at +4s",             "UP",                "wait +4s",                       "",                                 "")]
    [InlineData("lost lease, retry at +4s",             "UP at +4s",         "register UP",                    "",                                 "")]
    [InlineData("lost lease, no token",                 "DOWN",              "register DOWN",                  "",                                 "")]
    // Nothing to change: the read-back first (once per process, on its own schedule), then renewals.
    [InlineData("UP",                                   "UP",                "wait +20s",                      "",                                 "")]
    [InlineData("OUT_OF_SERVICE",                       "OUT_OF_SERVICE",    "wait +20s",                      "",                                 "")]
    [InlineData("UP, renew due",                        "UP",                "renew UP",                       "",                                 "")]
    [InlineData("OUT_OF_SERVICE, renew due",            "OUT_OF_SERVICE",    "renew OUT_OF_SERVICE",           "",                                 "")]
    [InlineData("UP, not read back",                    "UP",                "read back",                      "",                                 "")]
    [InlineData("UP, not read back, renew due",         "UP",                "read back",                      "",                                 "")]
    [InlineData("UP, read back at +2s",                 "UP",                "wait +2s",                       "",                                 "")]
    [InlineData("UP, read back at +2s, renew due",      "UP",                "renew UP",                       "",                                 "")]
    [InlineData("UP, read back at +40s",                "UP",                "wait +20s",                      "",                                 "")]
    [InlineData("UP, holding DOWN",                     "UP",                "wait +20s",                      "",                                 "held=none")]
    // A change: health by registering again, OUT_OF_SERVICE and its end through the override API; before the read-back.
    [InlineData("STARTING",                             "UP",                "register UP",                    "",                                 "")]
    [InlineData("UP",                                   "DOWN",              "register DOWN",                  "",                                 "")]
    [InlineData("UP, not read back",                    "DOWN",              "register DOWN",                  "",                                 "")]
    [InlineData("UP",                                   "OUT_OF_SERVICE",    "put OUT_OF_SERVICE",             "",                                 "")]
    [InlineData("UP",                                   "draining",          "put OUT_OF_SERVICE",             "",                                 "")]
    [InlineData("OUT_OF_SERVICE",                       "UP",                "delete override, UP",            "",                                 "")]
    [InlineData("OUT_OF_SERVICE",                       "DOWN",              "delete override, DOWN",          "",                                 "")]
    // No token: the change waits, said once per held status; the app's OUT_OF_SERVICE too, the drain's never.
    [InlineData("UP, no token",                         "DOWN",              "wait +15s",                      "DOWN held until +15s",             "held=DOWN")]
    [InlineData("UP, no token",                         "OUT_OF_SERVICE",    "wait +15s",                      "OUT_OF_SERVICE held until +15s",   "held=OUT_OF_SERVICE")]
    [InlineData("OUT_OF_SERVICE, no token",             "UP",                "wait +15s",                      "UP held until +15s",               "held=UP")]
    [InlineData("UP, no token",                         "draining",          "put OUT_OF_SERVICE",             "",                                 "")]
    [InlineData("UP, no token, holding DOWN",           "DOWN",              "wait +15s",                      "",                                 "")]
    [InlineData("UP, no token, holding DOWN",           "STARTING",          "wait +15s",                      "STARTING held until +15s",         "held=STARTING")]
    [InlineData("UP, no token, holding DOWN",           "STARTING at +15s",  "register STARTING",              "",                                 "held=none")]
    [InlineData("UP, no token, not read back",          "DOWN",              "wait +15s",                      "DOWN held until +15s",             "held=DOWN")]
    // The lease does not wait with the change: a renew due goes, and the wait ends at the renew or the token.
    [InlineData("UP, no token, renew due",              "DOWN",              "renew UP, held until +15s",      "DOWN held until +15s",             "held=DOWN")]
    [InlineData("UP, no token, renew at +1s",           "DOWN",              "wait +1s",                       "DOWN held until +15s",             "held=DOWN")]
    // A change that failed waits for its retry (no token taken meanwhile), renewing too.
    [InlineData("UP, retry at +4s",                     "DOWN",              "wait +4s",                       "",                                 "")]
    [InlineData("UP, retry at +4s, renew due",          "DOWN",              "renew UP, held until +4s",       "",                                 "")]
    [InlineData("UP, retry at +40s",                    "DOWN",              "wait +20s",                      "",                                 "")]
    [InlineData("UP, retry at +4s",                     "DOWN at +4s",       "register DOWN",                  "",                                 "")]
    [InlineData("OUT_OF_SERVICE, retry at +4s",         "UP",                "wait +4s",                       "",                                 "")]
    public void Next_DecidesTheRound(string given, string wish, string decision, string notes, string changes)
    {
        var round = Run(given, wish, answers: "");

        Assert.Equal(decision, round.Then);
        Assert.Equal(notes, round.Notes);
        Assert.Equal(changes, round.Changes);
    }

    [Theory]
    //          given                     wish          dirty (ms from now)
    [InlineData("new",                    "UP",         0)]       // the time of the change
    [InlineData("UP",                     "DOWN",       0)]
    [InlineData("UP, dirty +5ms",         "DOWN",       6)]       // never back, never the same: the last one + 1 ms
    [InlineData("UP",                     "OUT_OF_SERVICE", 0)]
    [InlineData("OUT_OF_SERVICE, dirty +0ms", "UP",     1)]
    [InlineData("UP, renew due",          "UP",         -10_000)] // a renewal sends the last change's
    public void Next_SendsALastDirtyTimestampThatNeverGoesBack(string given, string wish, long dirty)
    {
        var action = LeaseDecider.Next(Given(given), Wish(wish)).Action;

        var sent = action switch
        {
            LeaseAction.Register register => register.DirtyTimestamp,
            LeaseAction.SetOverride set => set.DirtyTimestamp,
            LeaseAction.RemoveOverride remove => remove.DirtyTimestamp,
            LeaseAction.Renew renew => renew.DirtyTimestamp,
            _ => throw new InvalidOperationException(Text(action)),
        };
        Assert.Equal(T0.ToUnixTimeMilliseconds() + dirty, sent);
    }

    [Fact]
    public void Next_TakesATokenForEachChange_ABurstOfTwo()
    {
        var state = Given("UP");
        var sent = new List<string>();
        foreach (var wish in new[] { "DOWN", "UP", "DOWN" })
        {
            var decision = LeaseDecider.Next(state, Wish(wish));
            sent.Add(Text(decision.Action));
            state = decision.Action is LeaseAction.Register register
                ? decision.State with { Reported = register.Status } // as if Eureka accepted it
                : decision.State;
        }

        Assert.Equal(["register DOWN", "register UP", "wait +15s"], sent);
    }
}

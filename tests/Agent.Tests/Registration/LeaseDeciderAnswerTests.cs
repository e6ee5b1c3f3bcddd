using Sidecar.Registration;
using static Sidecar.Tests.Registration.LeaseTable;

namespace Sidecar.Tests.Registration;

/// <summary>
/// What an answer from Eureka does to the lease (<see cref="LeaseDecider.Apply"/>): the next state, what is
/// said and written, and when to look again. Each row is a round: its call, the answers, the outcome.
/// </summary>
[Trait("Category", "Unit")]
public sealed class LeaseDeciderAnswerTests
{
    [Theory]
    //          given                                             wish              call                          answers   then         notes                                                             changes
    // Registration: the lease exists from then on; a failure backs off from 1 s, doubling up to the renew interval (30 s).
    [InlineData("new",                                            "UP",             "register UP",                "204",    "wait +0s",  "registered UP",                                                  "lease=UP dirty=+0ms renew=+30s registered=yes")]
    [InlineData("new",                                            "OUT_OF_SERVICE", "register OUT_OF_SERVICE!",   "204",    "wait +0s",  "remember override; registered OUT_OF_SERVICE",                  "lease=OUT_OF_SERVICE! dirty=+0ms renew=+30s oosSince=+0s registered=yes")]
    [InlineData("new",                                            "UP",             "register UP",                "fail",   "wait +1s",  "register failed, retry in 1s",                                   "retry=+1s delay=2s")]
    [InlineData("lost lease, retry delay 16s",                    "UP",             "register UP",                "fail",   "wait +16s", "register failed, retry in 16s",                                  "retry=+16s delay=30s")]
    [InlineData("lost lease, retry delay 30s",                    "UP",             "register UP",                "fail",   "wait +30s", "register failed, retry in 30s",                                  "retry=+30s")]
    [InlineData("lost lease, retry delay 8s",                     "UP",             "register UP",                "204",    "wait +0s",  "registered UP",                                                  "lease=UP dirty=+0ms renew=+30s delay=1s")]
    [InlineData("lost lease, stopping at +5s",                    "draining",       "register OUT_OF_SERVICE!",   "fail",   "wait +1s",  "register failed, retry in 1s",                                   "retry=+1s delay=2s")]
    [InlineData("lost lease, retry delay 8s, stopping at +5s",    "draining",       "register OUT_OF_SERVICE!",   "fail",   "wait +8s",  "register failed, not retried",                                   "retry=+8s delay=16s")]
    // A health change by registration: on any failure (a 404 too) the change waits for its retry.
    [InlineData("UP",                                             "DOWN",           "register DOWN",              "204",    "wait +0s",  "registered DOWN; UP -> DOWN by registration",                    "lease=DOWN dirty=+0ms renew=+30s")]
    [InlineData("UP",                                             "DOWN",           "register DOWN",              "fail",   "wait +0s",  "register failed, retry in 1s",                                   "retry=+1s delay=2s")]
    [InlineData("UP",                                             "DOWN",           "register DOWN",              "404",    "wait +0s",  "register failed, retry in 1s",                                   "retry=+1s delay=2s")]
    // The override API: the marker follows the override; a 404 means the lease is gone: register at once.
    [InlineData("UP",                                             "OUT_OF_SERVICE", "put OUT_OF_SERVICE",         "200",    "wait +0s",  "remember override; UP -> OUT_OF_SERVICE by status override",     "lease=OUT_OF_SERVICE! dirty=+0ms oosSince=+0s")]
    [InlineData("UP",                                             "draining",       "put OUT_OF_SERVICE",         "200",    "wait +0s",  "remember override; UP -> OUT_OF_SERVICE by status override",     "lease=OUT_OF_SERVICE! dirty=+0ms")]
    [InlineData("UP",                                             "OUT_OF_SERVICE", "put OUT_OF_SERVICE",         "404",    "wait +0s",  "404 to status override",                                         "lease=none")]
    [InlineData("UP, no token",                                   "draining",       "put OUT_OF_SERVICE",         "fail",   "wait +0s",  "status override failed, retry in 1s",                            "retry=+1s delay=2s")]
    [InlineData("OUT_OF_SERVICE, out of service since -10s",      "UP",             "delete override, UP",        "200",    "wait +0s",  "forget override; OUT_OF_SERVICE -> UP by status override removal", "lease=UP dirty=+0ms oosSince=none")]
    [InlineData("OUT_OF_SERVICE, out of service since -10s",      "UP",             "delete override, UP",        "404",    "wait +0s",  "404 to status override removal",                                 "lease=none oosSince=none")]
    [InlineData("OUT_OF_SERVICE",                                 "DOWN",           "delete override, DOWN",      "fail",   "wait +0s",  "status override removal failed, retry in 1s",                    "retry=+1s delay=2s")]
    // Renewals: a 404 registers again at once; a failure on every server registers again after the backoff.
    [InlineData("UP, renew due",                                  "UP",             "renew UP",                   "200",    "wait +30s", "",                                                               "renew=+30s")]
    [InlineData("UP, renew due",                                  "UP",             "renew UP",                   "404",    "wait -inf", "404 to renew",                                                   "lease=none")]
    [InlineData("UP, renew due",                                  "UP",             "renew UP",                   "fail",   "wait +1s",  "renew failed, retry in 1s",                                      "lease=none retry=+1s delay=2s")]
    [InlineData("OUT_OF_SERVICE, out of service since -10s, renew due", "OUT_OF_SERVICE", "renew OUT_OF_SERVICE", "404",    "wait -inf", "404 to renew",                                                   "lease=none oosSince=none")]
    // A renewal while a change waits: then the earlier of the token (or the retry) and the next renewal.
    [InlineData("UP, no token, renew due",                        "DOWN",           "renew UP, held until +15s",  "200",    "wait +15s", "DOWN held until +15s",                                           "renew=+30s held=DOWN")]
    [InlineData("UP, retry at +4s, renew due",                    "DOWN",           "renew UP, held until +4s",   "200",    "wait +4s",  "",                                                               "renew=+30s")]
    [InlineData("UP, no token, renew due",                        "DOWN",           "renew UP, held until +15s",  "404",    "wait -inf", "DOWN held until +15s; 404 to renew",                             "lease=none held=DOWN")]
    [InlineData("UP, no token, renew due",                        "DOWN",           "renew UP, held until +15s",  "fail",   "wait +1s",  "DOWN held until +15s; renew failed, retry in 1s",                "lease=none retry=+1s delay=2s held=DOWN")]
    // The read-back after the first registration: only an OUT_OF_SERVICE this agent left (the marker) is taken over, to be removed.
    [InlineData("UP, not read back",                              "UP",             "read back",                  "holds UNKNOWN", "wait +0s", "forget override",                                         "readBack=done")]
    [InlineData("UP, not read back",                              "UP",             "read back",                  "unreadable",    "wait +0s", "forget override",                                         "readBack=done")]
    [InlineData("UP, not read back",                              "UP",             "read back",                  "holds OUT_OF_SERVICE", "read marker OUT_OF_SERVICE", "",                               "readBack=done")]
    [InlineData("UP, not read back",                              "UP",             "read back, read marker OUT_OF_SERVICE", "holds OUT_OF_SERVICE, marker", "wait +0s", "inherited OUT_OF_SERVICE",  "lease=OUT_OF_SERVICE! readBack=done oosSince=+0s")]
    [InlineData("UP, not read back",                              "UP",             "read back, read marker OUT_OF_SERVICE", "holds OUT_OF_SERVICE, no marker", "wait +0s", "operator's OUT_OF_SERVICE", "readBack=done")]
    [InlineData("UP, not read back",                              "UP",             "read back",                  "holds DOWN",    "wait +0s", "operator's DOWN",                                         "readBack=done")]
    [InlineData("OUT_OF_SERVICE, not read back",                  "OUT_OF_SERVICE", "read back",                  "holds OUT_OF_SERVICE", "wait +0s", "",                                                 "readBack=done")]
    [InlineData("UP, not read back",                              "UP",             "read back",                  "404",    "wait -inf", "404 to read-back",                                               "lease=none")]
    // A failed read-back: 5 attempts, 1, 2, 4 and 8 s apart, then given up (no failure every renew for ever).
    [InlineData("UP, not read back",                              "UP",             "read back",                  "fail",   "wait +0s",  "read-back failed, retry in 1s",                                  "readBackAt=+1s failures=1")]
    [InlineData("UP, read back failed 1 times",                   "UP",             "read back",                  "fail",   "wait +0s",  "read-back failed, retry in 2s",                                  "readBackAt=+2s failures=2")]
    [InlineData("UP, read back failed 2 times",                   "UP",             "read back",                  "fail",   "wait +0s",  "read-back failed, retry in 4s",                                  "readBackAt=+4s failures=3")]
    [InlineData("UP, read back failed 3 times",                   "UP",             "read back",                  "fail",   "wait +0s",  "read-back failed, retry in 8s",                                  "readBackAt=+8s failures=4")]
    [InlineData("UP, read back failed 4 times",                   "UP",             "read back",                  "fail",   "wait +0s",  "read-back given up after 5",                                     "readBack=done failures=5")]
    public void Apply_TakesTheAnswer(string given, string wish, string call, string answers, string then, string notes, string changes)
    {
        var round = Run(given, wish, answers);

        Assert.Equal(call, round.Calls);
        Assert.Equal(then, round.Then);
        Assert.Equal(notes, round.Notes);
        Assert.Equal(changes, round.Changes);
    }

    [Theory]
    //          given                  wish               answer  seen by the rest of the agent (readiness | heartbeat | accepted | last failure)
    [InlineData("new",                 "UP",              "204",  $"ready: registered with {Server} as UP | heartbeat +0s | accepted UP | last failure none")]
    [InlineData("new",                 "OUT_OF_SERVICE",  "204",  $"ready: registered with {Server} as OUT_OF_SERVICE | heartbeat +0s | accepted OUT_OF_SERVICE | last failure none")]
    [InlineData("new",                 "UP",              "fail", $"not ready: not registered: register failed on every Eureka server: {Error} | heartbeat none | accepted none | last failure register failed on every server: {Error}")]
    [InlineData("lost lease",          "UP",              "fail", $"ready: registered; last register failed on every Eureka server: {Error} | heartbeat none | accepted none | last failure register failed on every server: {Error}")]
    [InlineData("UP, renew due",       "UP",              "200",  $"ready: registered with {Server} as UP | heartbeat +0s | accepted UP | last failure none")]
    [InlineData("UP, renew due",       "UP",              "fail", $"ready: registered; last renew failed on every Eureka server: {Error} | heartbeat -10s | accepted UP | last failure renew failed on every server: {Error}")]
    [InlineData("UP, renew due",       "UP",              "404",  $"ready: registered with {Server} as UP | heartbeat -10s | accepted UP | last failure none")]
    [InlineData("UP",                  "OUT_OF_SERVICE",  "200",  $"ready: registered with {Server} as OUT_OF_SERVICE | heartbeat +0s | accepted OUT_OF_SERVICE | last failure none")]
    [InlineData("UP",                  "DOWN",            "fail", $"ready: registered; last register failed on every Eureka server: {Error} | heartbeat -10s | accepted UP | last failure register failed on every server: {Error}")]
    [InlineData("UP, not read back",   "UP",              "fail", $"ready: registered with {Server} as UP | heartbeat -10s | accepted UP | last failure none")]
    public void Apply_SaysWhatTheRestOfTheAgentSees(string given, string wish, string answer, string seen)
    {
        var round = Run(given, wish, answer);

        Assert.Equal(seen, Seen(round.Last.State));
    }

    [Fact]
    public void Apply_ARegistrationWithoutTheOverride_KeepsTheOneTheServerHolds_SoTheNextRoundRemovesIt()
    {
        // A server keeps its OUT_OF_SERVICE against a client's re-registration (LeaseExistsRule).
        var state = Given("OUT_OF_SERVICE, out of service since -10s");
        var register = new LeaseAction.Register(LeaseStatus.Of(Sidecar.Eureka.InstanceStatus.Up), T0.ToUnixTimeMilliseconds());

        var decision = Decider.Apply(state, register, Answer("204"), Wish("UP"));

        Assert.Equal("dirty=+0ms renew=+30s", Changes(state, decision.State)); // the lease stays OUT_OF_SERVICE!
        Assert.Equal("delete override, UP", Text(LeaseDecider.Next(decision.State, Wish("UP")).Action));
    }

    [Fact]
    public void Apply_AWait_IsNotAnAnswer()
    {
        var state = Given("UP");

        Assert.Throws<ArgumentOutOfRangeException>(() => Decider.Apply(state, new LeaseAction.Wait(T0), Answer("200"), Wish("UP")));
    }
}

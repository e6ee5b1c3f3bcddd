using Sidecar.Registration;
using static Sidecar.Tests.Registration.LeaseTable;

namespace Sidecar.Tests.Registration;

/// <summary>
/// SIGTERM (docs/operations.md#shutdown-in-order): the drain's OUT_OF_SERVICE at once, the length of the
/// drain (<see cref="LeaseDecider.BeginStop"/>, <see cref="LeaseDecider.PlanDrain"/>), then the cancel
/// (<see cref="LeaseDecider.Cancel"/>).
/// </summary>
[Trait("Category", "Unit")]
public sealed class LeaseDeciderStopTests
{
    [Theory]
    //          given                                           drain  skip   answers  calls                 drain plan                                                                           notes                                                          changes
    // Never registered, the app already gone (or the agent never started), no drain configured: no drain.
    [InlineData("new",                                          "65s", false, "",      "",                   "no drain",                                                                          "",                                                            "stop=no drain until +0s")]
    [InlineData("UP",                                           "65s", true,  "200",   "put OUT_OF_SERVICE", "no drain",                                                                          "remember override; UP -> OUT_OF_SERVICE by status override",  "lease=OUT_OF_SERVICE! dirty=+0ms stop=no drain until +0s")]
    [InlineData("UP",                                           "0s",  false, "200",   "put OUT_OF_SERVICE", "no drain",                                                                          "remember override; UP -> OUT_OF_SERVICE by status override",  "lease=OUT_OF_SERVICE! dirty=+0ms stop=no drain until +0s")]
    // OUT_OF_SERVICE at once: whatever the bucket holds, whatever retry waits; then the whole drain (the drain's own OUT_OF_SERVICE does not shorten it).
    [InlineData("UP",                                           "65s", false, "200",   "put OUT_OF_SERVICE", "drain 65s, in Eureka",                                                              "remember override; UP -> OUT_OF_SERVICE by status override",  "lease=OUT_OF_SERVICE! dirty=+0ms stop=drain until +65s")]
    [InlineData("UP, no token",                                 "65s", false, "200",   "put OUT_OF_SERVICE", "drain 65s, in Eureka",                                                              "remember override; UP -> OUT_OF_SERVICE by status override",  "lease=OUT_OF_SERVICE! dirty=+0ms stop=drain until +65s")]
    [InlineData("UP, retry at +4s",                             "65s", false, "200",   "put OUT_OF_SERVICE", "drain 65s, in Eureka",                                                              "remember override; UP -> OUT_OF_SERVICE by status override",  "lease=OUT_OF_SERVICE! dirty=+0ms stop=drain until +65s")]
    // OUT_OF_SERVICE did not reach Eureka: the drain says why; a retry after the cancel is not promised.
    [InlineData("UP",                                           "65s", false, "fail",  "put OUT_OF_SERVICE", $"drain 65s, not in Eureka (status override failed on every server: {Error})",       "status override failed, retry in 1s",                         "retry=+1s delay=2s stop=drain until +65s")]
    [InlineData("UP",                                           "0s",  false, "fail",  "put OUT_OF_SERVICE", "no drain",                                                                          "status override failed, not retried",                         "retry=+1s delay=2s stop=no drain until +0s")]
    [InlineData("UP",                                           "65s", false, "404",   "put OUT_OF_SERVICE", "drain 65s, not in Eureka (not registered)",                                         "404 to status override",                                      "lease=none stop=drain until +65s")]
    [InlineData("lost lease",                                   "65s", false, "",      "",                   "drain 65s, not in Eureka (not registered)",                                         "",                                                            "stop=drain until +65s")]
    // The app's own OUT_OF_SERVICE before the stop shortens the drain by as long as it lasted.
    [InlineData("OUT_OF_SERVICE",                               "65s", false, "",      "",                   "drain 65s, in Eureka",                                                              "",                                                            "stop=drain until +65s")]
    [InlineData("OUT_OF_SERVICE, out of service since -10s",    "65s", false, "",      "",                   "drain 55s after 10s, in Eureka",                                                    "",                                                            "stop=drain from -10s until +55s")]
    [InlineData("OUT_OF_SERVICE, out of service since -65s",    "65s", false, "",      "",                   "drain over after 65s",                                                              "",                                                            "stop=drain from -65s until +0s")]
    [InlineData("OUT_OF_SERVICE, out of service since -70s",    "65s", false, "",      "",                   "drain over after 70s",                                                              "",                                                            "stop=drain from -70s until +0s")]
    [InlineData("OUT_OF_SERVICE, out of service since -10s",    "65s", true,  "",      "",                   "no drain",                                                                          "",                                                            "stop=no drain from -10s until +0s")]
    public void BeginStop_ThenPlanDrain(string given, string drain, bool skip, string answers, string calls, string plan, string notes, string changes)
    {
        var decider = new LeaseDecider(RenewInterval, drain == "0s" ? TimeSpan.Zero : TimeSpan.FromSeconds(65));
        var before = Given(given);
        var input = Wish("draining");
        var decision = decider.BeginStop(before, input, skip);
        var sent = new List<string>();
        var said = new List<LeaseNote>(decision.Notes);
        foreach (var answer in answers.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            sent.Add(Text(decision.Action));
            decision = decider.Apply(decision.State, decision.Action, Answer(answer), input);
            said.AddRange(decision.Notes);
        }

        var (after, drainPlan) = decider.PlanDrain(decision.State, T0);

        Assert.Equal(calls, string.Join(", ", sent));
        Assert.Equal(plan, Words(drainPlan));
        Assert.Equal(notes, Text(said));
        Assert.Equal(changes, Changes(before, after));
    }

    [Theory]
    //          given                                          answer  then        notes                                changes
    [InlineData("new",                                         "",     "wait +0s", "",                                  "")]
    [InlineData("UP, cancelled",                               "",     "wait +0s", "",                                  "")]
    // A stop cut the first register short: Eureka may hold the lease, so it is cancelled (a 404 says it did not).
    [InlineData("new, registration unanswered",                "200",  "wait +0s", "cancelled; forget override",        "cancelled=yes deregistered=yes")]
    [InlineData("new, registration unanswered",                "404",  "wait +0s", "cancel failed: 404",                "cancelled=yes deregistered=yes")]
    [InlineData("UP",                                          "200",  "wait +0s", "cancelled; forget override",        "lease=none cancelled=yes deregistered=yes")]
    [InlineData("UP",                                          "404",  "wait +0s", "cancel failed: 404",                "lease=none cancelled=yes deregistered=yes")]
    [InlineData("UP",                                          "fail", "wait +0s", $"cancel failed: {Error}",           "lease=none cancelled=yes deregistered=yes")]
    [InlineData("lost lease",                                  "200",  "wait +0s", "cancelled; forget override",        "cancelled=yes deregistered=yes")]
    [InlineData("OUT_OF_SERVICE, out of service since -10s",   "200",  "wait +0s", "cancelled; forget override",        "lease=none oosSince=none cancelled=yes deregistered=yes")]
    public void Cancel_OnceWhenEverRegistered(string given, string answer, string then, string notes, string changes)
    {
        var before = Given(given);
        var decision = LeaseDecider.Cancel(before, T0);
        var round = Answered(before, decision, Wish("draining"), answer);

        Assert.Equal(answer == "" ? "" : "cancel", round.Calls);
        Assert.Equal(then, round.Then);
        Assert.Equal(notes, round.Notes);
        Assert.Equal(changes, round.Changes);
        if (answer != "")
        {
            Assert.Null(round.Last.State.Accepted);
        }
    }

    /// <summary>
    /// A SIGTERM while the first registration's answer is on its way: the loop holds the gate over the call
    /// and its answer, so the stop sees the answer, and drains; a stop before the registration does not.
    /// </summary>
    [Theory]
    [InlineData(true, "put OUT_OF_SERVICE", "drain 65s, in Eureka")]
    [InlineData(false, "wait +0s", "no drain")]
    public void BeginStop_AfterTheFirstRegistrationsAnswer_Drains_BeforeIt_DoesNot(bool answered, string sends, string plan)
    {
        var state = Given("new");
        var first = LeaseDecider.Next(state, Wish("UP"));
        Assert.Equal("register UP", Text(first.Action));
        if (answered)
        {
            state = Decider.Apply(first.State, first.Action, Answer("204"), Wish("UP")).State;
        }

        var stop = Decider.BeginStop(state, Wish("draining"), skipDrain: false);
        var stopped = stop.Action is LeaseAction.Wait ? stop.State : Decider.Apply(stop.State, stop.Action, Answer("200"), Wish("draining")).State;

        Assert.Equal(sends, Text(stop.Action));
        Assert.Equal(plan, Words(Decider.PlanDrain(stopped, T0).Plan));
    }

    [Fact]
    public void PlanDrain_BeforeBeginStop_IsAMistake()
    {
        Assert.Throws<InvalidOperationException>(() => Decider.PlanDrain(Given("UP"), T0));
    }

    private static string Words(DrainPlan plan)
    {
        if (!plan.Drains)
        {
            return "no drain";
        }

        if (plan.Already > TimeSpan.Zero && plan.Remaining <= TimeSpan.Zero)
        {
            return "drain over after " + Span(plan.Already);
        }

        return $"drain {Span(plan.Remaining)}" + (plan.Already > TimeSpan.Zero ? $" after {Span(plan.Already)}" : "")
            + (plan.InEureka ? ", in Eureka" : $", not in Eureka ({plan.Why})");
    }
}

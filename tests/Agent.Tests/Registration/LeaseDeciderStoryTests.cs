using Sidecar.Health;
using Sidecar.Registration;
using static Sidecar.Tests.Registration.LeaseTable;

namespace Sidecar.Tests.Registration;

/// <summary>
/// The lease's rules over many rounds, on the decider alone: the same stories the end-to-end tests tell
/// through sockets (RegistrationLifecycleTests, ShutdownTests), each round performed by a scripted Eureka.
/// </summary>
[Trait("Category", "Unit")]
public sealed class LeaseDeciderStoryTests
{
    [Theory]
    [InlineData(30, "1s 2s 4s 8s 16s 30s 30s 30s")]
    [InlineData(5, "1s 2s 4s 5s 5s 5s 5s 5s")]
    public void ARegistrationFailingOnEveryServer_BacksOffFrom1sDoublingUpToTheRenewInterval_AndStartsOverOnceRegistered(int renewSeconds, string waits)
    {
        var decider = new LeaseDecider(TimeSpan.FromSeconds(renewSeconds), TimeSpan.FromSeconds(65));
        var state = Given("new");
        var now = T0;
        var seen = new List<string>();
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var input = Wish("UP") with { Now = now };
            var decision = LeaseDecider.Next(state, input);
            Assert.Equal("register UP", Text(decision.Action));
            decision = decider.Apply(decision.State, decision.Action, Answer("fail"), input);
            var wait = Assert.IsType<LeaseAction.Wait>(decision.Action);
            seen.Add(Span(wait.Until - now));
            Assert.IsType<LeaseAction.Wait>(LeaseDecider.Next(decision.State, input with { Now = wait.Until - TimeSpan.FromMilliseconds(1) }).Action); // not before
            (state, now) = (decision.State, wait.Until);
        }

        Assert.Equal(waits, string.Join(" ", seen));

        // Registered, then a renewal fails on every server: the backoff starts over at 1 s.
        var registered = decider.Apply(state, LeaseDecider.Next(state, Wish("UP") with { Now = now }).Action, Answer("204"), Wish("UP") with { Now = now }).State with { ReadBackDone = true };
        var renewAt = registered.NextRenew;
        var renew = LeaseDecider.Next(registered, Wish("UP") with { Now = renewAt });
        var failed = decider.Apply(renew.State, renew.Action, Answer("fail"), Wish("UP") with { Now = renewAt });
        Assert.Equal(renewAt + TimeSpan.FromSeconds(1), Assert.IsType<LeaseAction.Wait>(failed.Action).Until);
    }

    [Fact]
    public void ARenewAnswered404_RegistersAgainAtOnce_WithTheStatusItShouldHave()
    {
        var state = Given("OUT_OF_SERVICE, renew due");
        var steps = Script(state, "OUT_OF_SERVICE", "404", "204");

        Assert.Equal(["renew OUT_OF_SERVICE -> 404", "register OUT_OF_SERVICE! -> 204"], steps.Calls);
        Assert.Equal(LeaseStatus.OutOfService, steps.State.Reported);
    }

    [Fact]
    public void ChangesWithinTheBurstGoAtOnce_AHeldOneGoesWhenATokenIsBack_WithOnlyTheLatestState()
    {
        var state = Given("UP");
        var sent = new List<string>();
        var said = new List<LeaseNote>();
        foreach (var (wish, at) in new[] { ("DOWN", 0), ("UP", 0), ("DOWN", 0), ("STARTING", 5), ("DOWN", 10), ("UP", 14), ("STARTING", 15) })
        {
            var input = Wish(wish) with { Now = T0 + TimeSpan.FromSeconds(at) };
            var decision = LeaseDecider.Next(state, input);
            said.AddRange(decision.Notes);
            if (decision.Action is not LeaseAction.Wait)
            {
                sent.Add($"+{at}s {Text(decision.Action)}");
                decision = Decider.Apply(decision.State, decision.Action, Answer("204"), input);
            }

            state = decision.State;
        }

        Assert.Equal(["+0s register DOWN", "+0s register UP", "+15s register STARTING"], sent);
        // At +14 s the app is back to what Eureka holds: nothing waits, nothing is said.
        Assert.Equal("DOWN held until +15s; STARTING held until +15s; DOWN held until +15s", Text(said));
    }

    [Fact]
    public void AnAppTogglingItsStatus1000Times_MakesTwoWrites_AndItsLastStateGoesWhenATokenIsBack()
    {
        var state = Given("UP");
        var writes = 0;
        for (var i = 0; i <= 1000; i++)
        {
            var input = Wish(i % 2 == 0 ? "OUT_OF_SERVICE" : "UP");
            var decision = LeaseDecider.Next(state, input);
            if (decision.Action is not LeaseAction.Wait)
            {
                writes++;
                decision = Decider.Apply(decision.State, decision.Action, Answer("200"), input);
            }

            state = decision.State;
        }

        Assert.Equal(2, writes);
        var later = LeaseDecider.Next(state, Wish("OUT_OF_SERVICE at +15s"));
        Assert.Equal("put OUT_OF_SERVICE", Text(later.Action));
    }

    [Fact]
    public void AHeldChange_WithARenewIntervalShorterThanTheTokenWait_KeepsRenewing_AndIsSaidOnce()
    {
        // A token every 30 s, a renew every second: 30 renewals fall due while the change waits.
        var decider = new LeaseDecider(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(65));
        var state = Given("UP, renew at +1s") with { Tokens = new StatusUpdateRateLimiter(1, 2, T0 - TimeSpan.FromMinutes(1)) };
        Assert.True(state.Tokens.TryTake(T0, out var empty, out _));
        state = state with { Tokens = empty };

        var now = T0;
        var calls = new List<string>();
        var said = new List<LeaseNote>();
        for (var round = 0; round < 100 && calls.LastOrDefault()?.StartsWith("register", StringComparison.Ordinal) != true; round++)
        {
            var input = Wish("DOWN") with { Now = now };
            var decision = LeaseDecider.Next(state, input);
            said.AddRange(decision.Notes);
            while (decision.Action is not LeaseAction.Wait)
            {
                calls.Add(Text(decision.Action));
                decision = decider.Apply(decision.State, decision.Action, Answer("200"), input);
            }

            state = decision.State;
            var wait = ((LeaseAction.Wait)decision.Action).Until;
            Assert.True(wait > now || calls.Count > 0, "the loop would spin");
            now = wait > now ? wait : now;
        }

        Assert.Equal(29, calls.Count(c => c == "renew UP, held until +30s"));
        Assert.Equal("register DOWN", calls[^1]);
        Assert.Equal(T0 + TimeSpan.FromSeconds(30), now);
        Assert.Single(said.OfType<LeaseNote.RateLimited>());
    }

    [Theory]
    [InlineData(30, "1s 2s 4s 8s", 15)]
    [InlineData(3, "1s 2s 3s 3s", 9)]
    public void ARefusedReadBack_IsTriedFiveTimes_NoLongerApartThanARenewInterval_ThenGivenUp(int renewSeconds, string apart, int givenUpAfter)
    {
        var decider = new LeaseDecider(TimeSpan.FromSeconds(renewSeconds), TimeSpan.FromSeconds(65));
        var state = Given("UP, not read back") with { NextRenew = DateTimeOffset.MaxValue };
        var now = T0;
        var attempts = new List<DateTimeOffset>();
        while (!state.ReadBackDone)
        {
            var input = Wish("UP") with { Now = now };
            var decision = LeaseDecider.Next(state, input);
            if (decision.Action is LeaseAction.Wait wait)
            {
                (state, now) = (decision.State, wait.Until);
                continue;
            }

            Assert.Equal("read back", Text(decision.Action));
            attempts.Add(now);
            state = decider.Apply(decision.State, decision.Action, Answer("fail"), input).State;
        }

        Assert.Equal(5, attempts.Count);
        Assert.Equal(apart, string.Join(" ", attempts.Zip(attempts.Skip(1), (a, b) => Span(b - a))));
        Assert.Equal(TimeSpan.FromSeconds(givenUpAfter), now - T0);
    }

    [Fact]
    public void AnOverrideThisAgentLeftBeforeTheStart_IsRemovedAfterTheFirstRegistration_AndTheMarkerForgotten()
    {
        var steps = Script(Given("new"), "UP", "204", "holds OUT_OF_SERVICE", "marker", "200");

        Assert.Equal(["register UP -> 204", "read back -> holds OUT_OF_SERVICE", "read marker OUT_OF_SERVICE -> marker", "delete override, UP -> 200"], steps.Calls);
        Assert.Equal("registered UP; inherited OUT_OF_SERVICE; forget override; OUT_OF_SERVICE -> UP by status override removal", steps.Notes);
        Assert.Equal(LeaseStatus.Of(InstanceStatus.Up), steps.State.Reported);
        Assert.Equal("wait +30s", Text(LeaseDecider.Next(steps.State, Wish("UP")).Action)); // nothing left to remove
    }

    [Fact]
    public void AnOverrideThisAgentDidNotSet_StaysInPlace_AndRenewalsGoOn()
    {
        var steps = Script(Given("new"), "UP", "204", "holds OUT_OF_SERVICE", "no marker");

        Assert.Equal("registered UP; operator's OUT_OF_SERVICE", steps.Notes);
        Assert.Equal(LeaseStatus.Of(InstanceStatus.Up), steps.State.Reported);
        Assert.Equal("wait +30s", Text(LeaseDecider.Next(steps.State, Wish("UP")).Action));
    }

    [Fact]
    public void AnOverrideOfTheApp_IsRememberedWhileItLasts_AndForgottenWhenRemovedOrCancelled()
    {
        var steps = Script(Given("UP"), "OUT_OF_SERVICE", "200");
        Assert.Equal("remember override; UP -> OUT_OF_SERVICE by status override", steps.Notes);

        var back = Script(steps.State, "UP", "200");
        Assert.Equal("forget override; OUT_OF_SERVICE -> UP by status override removal", back.Notes);

        var cancel = LeaseDecider.Cancel(steps.State, T0);
        Assert.Equal("cancelled; forget override", Text(Decider.Apply(cancel.State, cancel.Action, Answer("200"), Wish("draining")).Notes));
    }

    /// <summary>Rounds against a scripted Eureka: each call gets the next answer, until the answers run out and the decider waits.</summary>
    private static (List<string> Calls, string Notes, LeaseState State) Script(LeaseState state, string wish, params string[] answers)
    {
        var input = Wish(wish);
        var calls = new List<string>();
        var notes = new List<LeaseNote>();
        var next = 0;
        while (true)
        {
            var decision = LeaseDecider.Next(state, input);
            notes.AddRange(decision.Notes);
            if (decision.Action is LeaseAction.Wait || next == answers.Length)
            {
                return (calls, Text(notes), decision.State);
            }

            while (decision.Action is not LeaseAction.Wait && next < answers.Length)
            {
                calls.Add($"{Text(decision.Action)} -> {answers[next]}");
                decision = Decider.Apply(decision.State, decision.Action, Answer(answers[next++]), input);
                notes.AddRange(decision.Notes);
            }

            state = decision.State;
        }
    }
}

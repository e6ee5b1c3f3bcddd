using Sidecar.Forwarding;

namespace Sidecar.Tests.Forwarding;

/// <summary>The hedging rules (docs/resilience.md#hedging) as a table of <see cref="HedgeDecider"/>.</summary>
[Trait("Category", "Unit")]
public sealed class HedgeDeciderTests
{
    public static TheoryData<string, bool, bool, string, bool, bool, bool, string> Table => new()
    {
        // case                           configured idempotent body                    ended  other  budget  decision
        { "GET, all allowed",             true,  true,  "Replayable",   false, true,  true,  "Hedge" },
        { "HedgeAfter unset",             false, true,  "Replayable",   false, true,  true,  "Off" },
        { "POST without key",             true,  false, "Replayable",   false, true,  true,  "NotIdempotent" },
        { "streamed body, unread",        true,  true,  "StreamUnread", false, true,  true,  "BodyStreamed" },
        { "streamed body, sent",          true,  true,  "StreamSent",   false, true,  true,  "BodyStreamed" },
        { "caller left",                  true,  true,  "Replayable",   true,  true,  true,  "CallEnded" },
        { "only the instance in flight",  true,  true,  "Replayable",   false, false, true,  "NoOtherInstance" },
        { "budget spent",                 true,  true,  "Replayable",   false, true,  false, "BudgetExhausted" },
        { "POST, budget spent: not asked",true,  false, "Replayable",   false, true,  false, "NotIdempotent" },
        { "no other instance, no budget", true,  true,  "Replayable",   false, false, false, "NoOtherInstance" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Decide(string name, bool configured, bool idempotent, string body, bool ended, bool other, bool budget, string expected)
    {
        var facts = new HedgeFacts(configured, idempotent, Enum.Parse<BodyState>(body), ended, other);
        var why = HedgeDecider.Settle(HedgeDecider.Decide(facts), budget);

        Assert.True(expected == why.ToString(), $"{name}: {why}");
    }

    [Theory]
    [InlineData(true, true, "Replayable", true)]
    [InlineData(false, true, "Replayable", false)]
    [InlineData(true, false, "Replayable", false)]
    [InlineData(true, true, "StreamUnread", false)]
    public void MayHedge_IsAskedBeforeTheFirstAttempt(bool configured, bool idempotent, string body, bool expected) =>
        Assert.Equal(expected, HedgeDecider.MayHedge(configured, idempotent, Enum.Parse<BodyState>(body)));

    [Theory]
    [InlineData("GET", false, true)]
    [InlineData("DELETE", false, true)]
    [InlineData("POST", false, false)]
    [InlineData("POST", true, true)]
    [InlineData("PATCH", false, false)]
    public void TheMethodRule_IsTheRetryRule(string method, bool key, bool expected) =>
        Assert.Equal(expected, HedgeDecider.MayHedge(true, RetryDecider.IsIdempotent(method, key), BodyState.Replayable));
}

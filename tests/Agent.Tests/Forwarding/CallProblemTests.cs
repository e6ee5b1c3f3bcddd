using Sidecar.Forwarding;
using static Sidecar.Tests.Forwarding.RetryTable;

namespace Sidecar.Tests.Forwarding;

/// <summary>The agent's own answer when a call's last attempt failed without a response (<see cref="CallProblem.Failure"/>).</summary>
[Trait("Category", "Unit")]
public sealed class CallProblemTests
{
    [Theory]
    //          failure             body             status   code
    [InlineData("no-instance",      "buffered",      503,     "no-instance")]
    [InlineData("no-instance",      "too-large",     503,     "no-instance")]
    [InlineData("transport",        "too-large",     413,     "body-too-large")]
    [InlineData("io",               "caller-failed", 400,     "bad-request")]
    [InlineData("upgrade",          "buffered",      502,     "bad-upstream-response")]
    [InlineData("try-timeout",      "buffered",      504,     "upstream-timeout")]
    [InlineData("try-timeout",      "sent",          504,     "upstream-timeout")]
    [InlineData("never-left",       "buffered",      502,     "upstream-unreachable")]
    [InlineData("transport",        "stream",        502,     "upstream-unreachable")]
    [InlineData("other",            "none",          502,     "upstream-unreachable")]
    public async Task Failure_AnswersForWhatHappened(string failure, string body, int status, string code)
    {
        var problem = CallProblem.Failure(Failure(failure), await Body(body), "orders", new ServicePolicy(), attempts: 3);

        Assert.Equal((status, code), (problem.Status, problem.Code));
        Assert.Contains(status == 400 ? "caller" : "orders", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Failure_NamesTheCauseAndTheAttempts_NeverAStackTrace()
    {
        var problem = CallProblem.Failure(Failure("refused"), RequestBody.None, "orders", new ServicePolicy(), attempts: 3);

        Assert.StartsWith("'orders' could not be reached (3 attempt(s)): ", problem.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void DeadlineExceeded_AndTooLarge_NameTheirLimit()
    {
        Assert.Equal("The call to 'orders' did not complete within its deadline of 2500ms (2 attempt(s)).",
            CallProblem.DeadlineExceeded("orders", TimeSpan.FromSeconds(2.5), 2).Detail);
        Assert.Equal("Calls to 'orders' accept bodies up to 10 bytes (Forwarding:MaxBodySize).",
            CallProblem.TooLarge("orders", new ServicePolicy { MaxBodySize = 10 }).Detail);
    }
}

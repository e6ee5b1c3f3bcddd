using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Polly;
using Sidecar.Forwarding;
using Sidecar.Observability;
using static Sidecar.Tests.Forwarding.RetryTable;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The first attempt runs without Polly (docs/performance.md#what-was-tuned), every later one inside the Polly
/// retry strategy. Both judge an attempt through <see cref="CallRetries"/> and so <see cref="RetryDecider"/>:
/// for every method, <c>Idempotency-Key</c> or not, outcome, body state, <c>Retries</c> 0, 1 or 2, budget or
/// none, caller there or gone, the fast path's judgement of the first attempt is what the real
/// pipeline of <see cref="ForwardingPipelines"/> does with that same attempt when it runs it itself:
/// it retries exactly when the fast path says retry, otherwise it ends with that attempt's outcome (so
/// the answer written from it is the same), and it counts the same retries and exhausted budgets.
/// Handing over (the fast path said retry) judges the first attempt once: the budget is paid once.
/// </summary>
[Trait("Category", "Unit")]
public sealed class FirstAttemptEquivalenceTests
{
    public static TheoryData<string, string> OutcomesAndBodies()
    {
        var data = new TheoryData<string, string>();
        foreach (var outcome in Outcomes)
        {
            foreach (var body in Bodies)
            {
                data.Add(outcome, body);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(OutcomesAndBodies))]
    public async Task TheFastPathsJudgementOfTheFirstAttempt_IsWhatThePipelineDoesWithIt(string outcome, string body)
    {
        var mismatches = new List<string>();
        var cases = 0;
        foreach (var method in Methods)
        {
            foreach (var key in new[] { false, true })
            {
                foreach (var retries in new[] { 0, 1, 2 })
                {
                    foreach (var budget in new[] { true, false })
                    {
                        foreach (var callerLeft in new[] { false, true })
                        {
                            var name = $"{method}{(key ? "+key" : "")} {outcome}, body {body}, retries {retries}, {(budget ? "budget" : "no budget")}{(callerLeft ? ", caller left" : "")}";
                            var policy = new ServicePolicy
                            {
                                Retries = retries,
                                RetryBackoff = TimeSpan.Zero,
                                RetryBudgetPercent = 0,
                                RetryBudgetMinPerSecond = budget ? 10 : 0,
                            };

                            // The fast path: the first attempt judged outside Polly.
                            var fast = await Call(policy, method, key, body, callerLeft);
                            var decision = fast.Retries.JudgeFirst(Outcome(outcome));

                            // The pipeline alone: the same attempt as its own first one.
                            var alone = await Call(policy, method, key, body, callerLeft);
                            var first = Outcome(outcome);
                            var (calls, last) = await RunPipelineAsync(alone, first);

                            if (decision.Retry != calls > 1)
                            {
                                mismatches.Add($"{name}: the fast path says '{Describe(decision)}', the pipeline made {calls} attempt(s)");
                            }
                            else if (calls == 1 && !SameOutcome(first, last))
                            {
                                mismatches.Add($"{name}: not retried, yet the pipeline did not end with the first attempt's outcome");
                            }
                            else if (Counted(fast.Pool) != Counted(alone.Pool))
                            {
                                mismatches.Add($"{name}: the fast path counted {Counted(fast.Pool)}, the pipeline {Counted(alone.Pool)}");
                            }
                            else if (decision.Retry)
                            {
                                // The hand-over: the pipelines start from the fast path's outcome and take its judgement.
                                var (handedCalls, _) = await RunPipelineAsync(fast, Outcome(outcome));
                                if (handedCalls != 2 || Counted(fast.Pool) != Counted(alone.Pool))
                                {
                                    mismatches.Add($"{name}: handed over, {handedCalls} attempt(s) and {Counted(fast.Pool)}, alone {Counted(alone.Pool)}");
                                }
                            }

                            cases++;
                        }
                    }
                }
            }
        }

        Assert.Equal(Methods.Length * 24, cases);
        Assert.Empty(mismatches);
    }

    [Theory]
    //          attempt                           retries   decision
    [InlineData("GET 502",                        2,        "retry status_502")]
    [InlineData("GET 502",                        0,        "no: attempts-spent")]
    [InlineData("POST 502",                       2,        "no: not-idempotent")]
    [InlineData("GET 200",                        2,        "no: not-retryable-status")]
    [InlineData("POST never-left",                2,        "retry connect_error")]
    [InlineData("PUT try-timeout, body sent",     2,        "no: body-sent")]
    public async Task TheFastPath_AsksTheDecider(string attempt, int retries, string expected)
    {
        var facts = Facts(attempt);
        var (method, key) = Method(attempt.Split(' ')[0]);
        var outcome = attempt.Split(',')[0].Split(' ', 2)[1];
        var body = attempt.Contains("body sent", StringComparison.Ordinal) ? "sent" : "buffered";
        var call = await Call(new ServicePolicy { Retries = retries, RetryBackoff = TimeSpan.Zero }, method, key, body, callerLeft: false);

        var decision = call.Retries.JudgeFirst(Outcome(outcome));

        Assert.Equal(expected, Describe(decision));
        Assert.Equal(Describe(RetryDecider.Decide(facts with { MaxRetries = retries })), Describe(decision));
    }

    private sealed record TestCall(ServicePool Pool, CallRetries Retries, FakeTimeProvider Time);

    private static async Task<TestCall> Call(ServicePolicy policy, string method, bool key, string body, bool callerLeft)
    {
        var time = new FakeTimeProvider();
        var pool = new ServicePool("orders", policy, null, time, new ForwardingLog(NullLogger<ForwardingLog>.Instance));
        var retries = new CallRetries(pool, new ForwardingLog(NullLogger<ForwardingLog>.Instance),
            RetryDecider.IsIdempotent(method, key), policy.Timeout, callerLeft ? new CancellationToken(canceled: true) : CancellationToken.None);
        retries.Start(await Body(body));
        return new TestCall(pool, retries, time);
    }

    /// <summary>Runs the service's real attempt pipeline: the first attempt ends with <paramref name="first"/>, any later one with a 200.</summary>
    private static async Task<(int Calls, Outcome<HttpResponseMessage> Last)> RunPipelineAsync(TestCall call, Outcome<HttpResponseMessage> first)
    {
        var context = ResilienceContextPool.Shared.Get(CancellationToken.None);
        context.Properties.Set(ForwardingPipelines.CallKey, call.Retries);
        var calls = 0;
        try
        {
            var run = call.Pool.Pipelines.Attempts.ExecuteOutcomeAsync(
                (_, _) => ValueTask.FromResult(++calls == 1 ? first : Polly.Outcome.FromResult(new HttpResponseMessage(HttpStatusCode.OK))),
                context, 0).AsTask();
            if (!run.IsCompleted)
            {
                call.Time.Advance(TimeSpan.FromSeconds(5)); // the wait a Retry-After asked for (at most 5 s in the table)
            }

            var last = await run.WaitAsync(TimeSpan.FromSeconds(30));
            return (calls, last);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static bool SameOutcome(Outcome<HttpResponseMessage> first, Outcome<HttpResponseMessage> last) =>
        first.Exception is not null ? ReferenceEquals(first.Exception, last.Exception) : ReferenceEquals(first.Result, last.Result);

    private static string Counted(ServicePool pool) =>
        string.Join(' ', Enum.GetValues<RetryReason>().Select(r => $"{r.Label()}={pool.Metrics.RetryCount(r)}")) +
        $" budget_exhausted={pool.Metrics.BudgetExhaustedCount}";
}

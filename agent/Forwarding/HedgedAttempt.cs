using Polly;

namespace Sidecar.Forwarding;

/// <summary>One attempt of a hedged race, cancelled through the source it runs on when the other attempt answered first.</summary>
internal sealed class HedgeLeg
{
    private CancellationTokenSource? _source;

    public HedgeLeg()
    {
    }

    public HedgeLeg(CancellationTokenSource source) => _source = source;

    public CancellationToken Token => _source!.Token;

    /// <summary>Cancelled by the race, not by the instance: its failure is not the instance's (no ejection, no breaker).</summary>
    public bool Lost { get; private set; }

    /// <summary>For the next call's first attempt (<see cref="HedgeWait"/> is pooled, and its leg with it).</summary>
    internal void Reset(CancellationTokenSource source)
    {
        _source = source;
        Lost = false;
    }

    public void Lose()
    {
        Lost = true;
        _source!.Cancel();
    }
}

/// <summary>
/// The first attempt of a hedged call (docs/resilience.md#hedging): when it has no response headers after
/// <c>HedgeAfter</c>, a second attempt goes to another instance; the first answer wins and the other is
/// cancelled (its response, if any, disposed). The outcome is the first attempt's as far as the retry rules
/// are concerned (<see cref="CallRetries.JudgeFirst"/>).
/// Written by hand rather than with Polly's hedging strategy: the first attempt runs outside the Polly
/// pipelines (the fast path, docs/performance.md#what-was-tuned) and hands its outcome to the retry
/// strategy, and hedging must not put a pipeline back on it; the race is only taken when <c>HedgeAfter</c>
/// is set, so calls without it keep the fast path exactly as it is.
/// </summary>
internal static class HedgedAttempt
{
    /// <summary>
    /// The common case, an answer within <c>HedgeAfter</c>, is on every hedgeable call's path (docs/resilience.md#cost): the
    /// first attempt runs on the call's own source (losing the race cancels that source, and the call takes a fresh one for
    /// the answer), its wait is pooled and <c>HedgeAfter</c> is the service's clock, so no token source, registration, timer
    /// update or async step of its own; the race is only entered when the clock finds the wait due.
    /// </summary>
    public static ValueTask<Outcome<HttpResponseMessage>> RunAsync(ForwardCall call, HedgeClock clock, CancellationTokenSource source)
    {
        var wait = clock.Start(source);
        var first = call.AttemptAsync(wait.Leg, source.Token);
        if (first.IsCompleted)
        {
            clock.Stop(wait);
            return first;
        }

        return wait.WaitAsync(call, first.AsTask());
    }

    /// <summary>
    /// The first attempt has had no answer for <c>HedgeAfter</c> (<see cref="HedgeWait"/>): the race, unless the attempt
    /// ended meanwhile or the call did (its source then cancels the first attempt, which ends).
    /// </summary>
    internal static async Task<Outcome<HttpResponseMessage>> AfterHedgeAfterAsync(ForwardCall call, HedgeLeg first, Task<Outcome<HttpResponseMessage>> firstTask) =>
        firstTask.IsCompleted || first.Token.IsCancellationRequested
            ? await firstTask.ConfigureAwait(false)
            : await RaceAsync(call, first, firstTask, first.Token).ConfigureAwait(false);

    /// <summary>The first attempt has had no answer for <c>HedgeAfter</c>: a hedge, when one is allowed, and the race.</summary>
    private static async Task<Outcome<HttpResponseMessage>> RaceAsync(ForwardCall call, HedgeLeg first, Task<Outcome<HttpResponseMessage>> firstTask, CancellationToken cancellationToken)
    {
        if (call.StartHedge() is not { } instance)
        {
            return await firstTask.ConfigureAwait(false);
        }

        // Linked by hand rather than with a linked source: a first attempt that loses cancels the call's source,
        // which must not cancel the hedge that won with it.
        using var secondSource = new CancellationTokenSource();
        using var link = cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), secondSource);
        var second = new HedgeLeg(secondSource);
        var secondTask = call.SendAsync(instance, second, second.Token).AsTask();

        var winnerTask = await Task.WhenAny(firstTask, secondTask).ConfigureAwait(false);
        var (loserTask, loser) = winnerTask == firstTask ? (secondTask, second) : (firstTask, first);
        var outcome = await winnerTask.ConfigureAwait(false);
        if (outcome.Exception is not null)
        {
            // A failure is no answer: the other attempt may still bring one (and when both fail, the
            // retry rules judge the first failure, as without hedging). A per-try time-out or the deadline
            // ends both: each is then its instance's failure, not a race lost.
            var other = await loserTask.ConfigureAwait(false);
            if (other.Exception is null)
            {
                call.HedgeSettled(hedgeWon: loserTask == secondTask);
                return other;
            }

            call.HedgeSettled(hedgeWon: false);
            return outcome;
        }

        // The first answer wins; the other attempt is cancelled and whatever it got is let go.
        if (loser != second)
        {
            link.Dispose();
        }

        loser.Lose();
        var lost = await loserTask.ConfigureAwait(false);
        lost.Result?.Dispose();
        call.HedgeSettled(hedgeWon: winnerTask == secondTask);
        return outcome;
    }
}

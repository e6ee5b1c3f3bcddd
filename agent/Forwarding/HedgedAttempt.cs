using Polly;

namespace Sidecar.Forwarding;

/// <summary>One attempt of a hedged race: its own token source, cancelled when the other attempt answered first.</summary>
internal sealed class HedgeLeg(CancellationTokenSource source)
{
    public CancellationToken Token => source.Token;

    /// <summary>Cancelled by the race, not by the instance: its failure is not the instance's (no ejection, no breaker).</summary>
    public bool Lost { get; private set; }

    public void Lose()
    {
        Lost = true;
        source.Cancel();
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
    public static async ValueTask<Outcome<HttpResponseMessage>> RunAsync(ForwardCall call, TimeSpan hedgeAfter, CancellationToken cancellationToken)
    {
        using var firstSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var first = new HedgeLeg(firstSource);
        var firstTask = call.AttemptAsync(first, first.Token).AsTask();
        if (!firstTask.IsCompleted)
        {
            // One timer and no extra token source or WhenAny: the common case (an answer within HedgeAfter)
            // is on every hedgeable call's path (docs/resilience.md#cost).
            try
            {
                await firstTask.WaitAsync(hedgeAfter, call.Pool.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // No answer within HedgeAfter: the hedge below.
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The call ended: the first attempt's own outcome below.
            }
        }

        if (firstTask.IsCompleted || cancellationToken.IsCancellationRequested)
        {
            return await firstTask.ConfigureAwait(false);
        }

        if (call.StartHedge() is not { } instance)
        {
            return await firstTask.ConfigureAwait(false);
        }

        using var secondSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
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
        loser.Lose();
        var lost = await loserTask.ConfigureAwait(false);
        lost.Result?.Dispose();
        call.HedgeSettled(hedgeWon: winnerTask == secondTask);
        return outcome;
    }
}

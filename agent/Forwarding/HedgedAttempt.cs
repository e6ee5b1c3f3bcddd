using System.Threading.Tasks.Sources;
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
    // Awaited once, by the call's first attempt: its async step is pooled, not allocated per call.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<Outcome<HttpResponseMessage>> RunAsync(ForwardCall call, TimeSpan hedgeAfter, CancellationToken cancellationToken)
    {
        // The common case, an answer within HedgeAfter, is on every hedgeable call's path (docs/resilience.md#cost):
        // the first leg's source and the HedgeAfter timer are pooled sources (TimeoutSources: no new source,
        // timer or registration node per call), and the race itself is another method, whose locals are not
        // carried by this one.
        var time = call.Pool.Time;
        var firstSource = TimeoutSources.Rent(time, Timeout.InfiniteTimeSpan);
        var link = cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), firstSource);
        try
        {
            var first = new HedgeLeg(firstSource);
            var firstTask = call.AttemptAsync(first, first.Token).AsTask();
            if (!firstTask.IsCompleted)
            {
                // The call's end needs no waking of its own here: it cancels the first leg (linked above), which then ends.
                // Woken by the first attempt's end or by HedgeAfter (then the hedge below), whichever comes first.
                var timer = TimeoutSources.Rent(time, hedgeAfter);
                try
                {
                    await HedgeWait.Rent().WaitAsync(firstTask, timer.Token);
                }
                finally
                {
                    TimeoutSources.Return(timer, time);
                }
            }

            return firstTask.IsCompleted || cancellationToken.IsCancellationRequested
                ? await firstTask.ConfigureAwait(false)
                : await RaceAsync(call, first, firstTask, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            link.Dispose();
            TimeoutSources.Return(firstSource, time);
        }
    }

    /// <summary>The first attempt has had no answer for <c>HedgeAfter</c>: a hedge, when one is allowed, and the race.</summary>
    private static async Task<Outcome<HttpResponseMessage>> RaceAsync(ForwardCall call, HedgeLeg first, Task<Outcome<HttpResponseMessage>> firstTask, CancellationToken cancellationToken)
    {
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

/// <summary>
/// The wait of a hedgeable first attempt for its answer or for <c>HedgeAfter</c>, whichever comes first: a pooled
/// awaitable, where <c>Task.WaitAsync</c> allocated a promise per call and threw when the time came
/// (docs/resilience.md#cost). Taken back only when the first attempt woke it: its continuation on that attempt
/// has then run, while one woken by the timer may still be called by the attempt when it ends.
/// </summary>
internal sealed class HedgeWait : IValueTaskSource
{
    [ThreadStatic]
    private static HedgeWait? t_cached;

    private readonly Action _firstEnded;
    private ManualResetValueTaskSourceCore<bool> _core;
    private CancellationTokenRegistration _timer;
    private int _woken; // 0 waiting, 1 by the first attempt, 2 by the timer

    private HedgeWait() => _firstEnded = () => Wake(1);

    public static HedgeWait Rent()
    {
        var wait = t_cached ?? new HedgeWait();
        t_cached = null;
        return wait;
    }

    /// <summary>Completes when <paramref name="first"/> ends or <paramref name="timer"/> fires; never throws.</summary>
    public ValueTask WaitAsync(Task first, CancellationToken timer)
    {
        _core.Reset();
        _woken = 0;
        var version = _core.Version;
        _timer = timer.UnsafeRegister(static s => ((HedgeWait)s!).Wake(2), this);
        first.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_firstEnded);
        return new ValueTask(this, version);
    }

    private void Wake(int by)
    {
        if (Interlocked.CompareExchange(ref _woken, by, 0) == 0)
        {
            _core.SetResult(true);
        }
    }

    public void GetResult(short token)
    {
        _core.GetResult(token);
        var woken = Volatile.Read(ref _woken);
        _timer.Dispose();
        _timer = default;
        if (woken == 1)
        {
            t_cached = this;
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

namespace Sidecar.Forwarding;

/// <summary>The call's side of a hedge race (<see cref="HedgedAttempt"/>, docs/resilience.md#hedging): starting the hedge, and settling which instance won.</summary>
internal abstract partial class ForwardCall
{
    /// <summary>
    /// A hedge for the first attempt, which has had no answer for <c>HedgeAfter</c> (<see cref="HedgedAttempt"/>):
    /// an instance not tried yet, when <see cref="HedgeDecider"/> and the retry budget allow one; counted
    /// and told on the call's span. Null for no hedge.
    /// </summary>
    internal InstanceState? StartHedge()
    {
        var instance = _instances.PickUntried(Pool);
        var why = HedgeDecider.Decide(new HedgeFacts(true, _idempotent, _body.State, Aborted.IsCancellationRequested, instance is not null));
        if (why == HedgeWhy.Hedge)
        {
            why = HedgeDecider.Settle(why, _retries.SpendHedgeBudget());
        }

        if (why != HedgeWhy.Hedge)
        {
            instance?.Release();
            return null;
        }

        _instances.StartHedge(instance!);
        Pool.Metrics.Hedged();
        _telemetry.Hedged(instance!, Attempts + 1);
        return instance;
    }

    /// <summary>The race is over: the winner's instance is the call's from now on.</summary>
    internal void HedgeSettled(bool hedgeWon)
    {
        _instances.SettleHedge(hedgeWon);
        if (hedgeWon)
        {
            Pool.Metrics.HedgeWon();
            _telemetry.HedgeWon();
        }
    }

    /// <summary>The first attempt's source, cancelled, given back for a fresh one for <paramref name="remaining"/> (the time-out, or a lost race, no longer applies).</summary>
    private void Renew(ref TimeoutSource cts, ref CancellationTokenRegistration registration, TimeSpan remaining)
    {
        registration.Dispose();
        TimeoutSources.Return(cts, Pool.Time);
        cts = TimeoutSources.Rent(Pool.Time, remaining);
        registration = Aborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), cts.Source);
    }
}

using System.Threading.Tasks.Sources;
using Polly;

namespace Sidecar.Forwarding;

/// <summary>
/// A hedgeable first attempt's outcome as the call awaits it (<see cref="HedgedAttempt"/>): the first attempt's own
/// outcome when it ends before <c>HedgeAfter</c>, handed over by the attempt's end with no async step in between;
/// the race's when its service's <see cref="HedgeClock"/>, on which it is listed while it waits, finds it due first.
/// Pooled by the clock and reused only when the first attempt ended first and the clock had not taken it: a wait the
/// clock took may still be woken by it, and its <see cref="Leg"/> is still the first attempt's.
/// </summary>
internal sealed class HedgeWait : IValueTaskSource<Outcome<HttpResponseMessage>>, IThreadPoolWorkItem
{
    private const int Starting = 0, Waiting = 1, FirstEnded = 2, Due = 3;

    private readonly HedgeClock _clock;
    private readonly Action _firstEnded;
    private ManualResetValueTaskSourceCore<Outcome<HttpResponseMessage>> _core;
    private ForwardCall? _call;
    private Task<Outcome<HttpResponseMessage>>? _first;
    private ExecutionContext? _context;
    private int _state;

    public HedgeWait(HedgeClock clock)
    {
        _clock = clock;
        _firstEnded = FirstAttemptEnded;
    }

    /// <summary>The first attempt as a leg of the race; losing it cancels the source it runs on.</summary>
    public HedgeLeg Leg { get; } = new();

    // The clock's list (or its pool), under the clock's lock.
    internal HedgeWait? Prev { get; set; }

    internal HedgeWait? Next { get; set; }

    internal long DueAt { get; private set; }

    internal bool Listed { get; set; }

    internal void Reset(CancellationTokenSource source, long dueAt)
    {
        _core.Reset();
        _state = Starting;
        DueAt = dueAt;
        Leg.Reset(source);
    }

    /// <summary>The first attempt's outcome, or the race's when it has none by <c>HedgeAfter</c>; never throws for the upstream's failures.</summary>
    public ValueTask<Outcome<HttpResponseMessage>> WaitAsync(ForwardCall call, Task<Outcome<HttpResponseMessage>> first)
    {
        _call = call;
        _first = first;
        _context = ExecutionContext.Capture(); // the race runs in the call's context, as its attempts do
        var version = _core.Version;
        if (Interlocked.CompareExchange(ref _state, Waiting, Starting) == Due)
        {
            _ = RaceAsync(); // the clock found it due before it was ready
        }
        else
        {
            first.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_firstEnded);
        }

        return new(this, version);
    }

    private void FirstAttemptEnded()
    {
        if (Interlocked.CompareExchange(ref _state, FirstEnded, Waiting) == Waiting)
        {
            _core.SetResult(_first!.Result); // an attempt's task ends with an outcome, never faulted
        }
    }

    /// <summary>The clock found the wait due (on the thread pool, not on the clock's timer).</summary>
    void IThreadPoolWorkItem.Execute()
    {
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Starting when Interlocked.CompareExchange(ref _state, Due, Starting) == Starting:
                    return; // WaitAsync races when it finds it
                case Waiting when Interlocked.CompareExchange(ref _state, Due, Waiting) == Waiting:
                    if (_context is null)
                    {
                        _ = RaceAsync();
                    }
                    else
                    {
                        ExecutionContext.Run(_context, static s => _ = ((HedgeWait)s!).RaceAsync(), this);
                    }

                    return;
                case FirstEnded or Due:
                    return;
            }
        }
    }

    private async Task RaceAsync()
    {
        try
        {
            _core.SetResult(await HedgedAttempt.AfterHedgeAfterAsync(_call!, Leg, _first!).ConfigureAwait(false));
        }
#pragma warning disable CA1031 // handed to the call, which awaits it: a fault must not leave it waiting forever
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _core.SetException(ex);
        }
    }

    public Outcome<HttpResponseMessage> GetResult(short token)
    {
        var outcome = _core.GetResult(token);
        if (Volatile.Read(ref _state) == FirstEnded)
        {
            _call = null;
            _first = null;
            _context = null;
            _clock.Stop(this); // the last use of this wait by this call: pooled, it may be another call's at once
        }

        return outcome;
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

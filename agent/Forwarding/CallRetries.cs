using Polly;
using Sidecar.Observability;

namespace Sidecar.Forwarding;

/// <summary>
/// The retry side of one forwarded call: its deadline, the facts of each attempt as
/// <see cref="RetryDecider"/> reads them, and the retry budget a yes is paid from. Both ways an
/// attempt is judged come here: the first attempt, which runs without Polly (<see cref="JudgeFirst"/>),
/// and the Polly retry strategy (<see cref="ShouldHandle"/>, wired by <see cref="ForwardingPipelines"/>),
/// so a rule is written once and both apply it the same way.
/// </summary>
internal sealed class CallRetries
{
    private ServicePool _pool = null!;
    private ForwardingLog _log = null!;
    private bool _idempotent;
    private CancellationToken _aborted;
    private RequestBody _body = RequestBody.None;
    private long _deadlineAt;
    private TimeSpan? _retryAfter;
    private RetryDecision? _first;

    /// <param name="pool">The service: its policy, clock, retry budget and counters.</param>
    /// <param name="log">Where an exhausted budget is said.</param>
    /// <param name="idempotent">The request may be repeated (<see cref="RetryDecider.IsIdempotent"/>).</param>
    /// <param name="deadline">The call's total deadline.</param>
    /// <param name="aborted">Fires when the caller leaves.</param>
    public CallRetries(ServicePool pool, ForwardingLog log, bool idempotent, TimeSpan deadline, CancellationToken aborted) =>
        Begin(pool, log, idempotent, deadline, aborted);

    /// <summary>One to be begun (<see cref="Begin"/>) for each call of a kept <see cref="ForwardCall"/>.</summary>
    public CallRetries()
    {
    }

    /// <summary>The total deadline of the call.</summary>
    public TimeSpan Deadline { get; private set; }

    /// <summary>Takes a new call (the parameters are the constructor's), with nothing left of the one before.</summary>
    public void Begin(ServicePool pool, ForwardingLog log, bool idempotent, TimeSpan deadline, CancellationToken aborted)
    {
        _pool = pool;
        _log = log;
        _idempotent = idempotent;
        Deadline = deadline;
        _aborted = aborted;
        _body = RequestBody.None;
        _deadlineAt = 0;
        _retryAfter = null;
        _first = null;
        DeadlineToken = default;
    }

    /// <summary>The token of the deadline while it is the one that applies (none while only the per-try time-out does).</summary>
    public CancellationToken DeadlineToken { get; set; }

    /// <summary>The per-try time-out; none for a streamed body, which the deadline alone bounds.</summary>
    public TimeSpan TryTimeout => _body.IsStreamed ? Timeout.InfiniteTimeSpan : _pool.Policy.TryTimeout;

    /// <summary>What is left of the deadline, never zero (Polly reads a zero time-out as none).</summary>
    public TimeSpan RemainingDeadline
    {
        get
        {
            var remaining = Remaining();
            return remaining > TimeSpan.FromMilliseconds(1) ? remaining : TimeSpan.FromMilliseconds(1);
        }
    }

    /// <summary>The deadline starts now, for a call with <paramref name="body"/>.</summary>
    public void Start(RequestBody body)
    {
        _body = body;
        var time = _pool.Time;
        _deadlineAt = time.GetTimestamp() + (long)(Deadline.TotalSeconds * time.TimestampFrequency);
    }

    /// <summary>What is left of the deadline (zero or less once it passed).</summary>
    public TimeSpan Remaining() => _pool.Time.GetElapsedTime(_pool.Time.GetTimestamp(), _deadlineAt);

    /// <summary>
    /// The fast path's judgement of the first attempt, made as the pipeline makes it for every attempt.
    /// When it is a retry, the pipelines take over from this outcome and <see cref="ShouldHandle"/> gives
    /// them this same judgement for it, so it is made (and its budget paid) once.
    /// </summary>
    public RetryDecision JudgeFirst(Outcome<HttpResponseMessage> outcome)
    {
        var decision = Judge(outcome, 0);
        _first = decision;
        return decision;
    }

    /// <summary>The Polly retry strategy's predicate: the first attempt's judgement when the fast path made it, a new one otherwise.</summary>
    public bool ShouldHandle(Outcome<HttpResponseMessage> outcome, int attemptNumber)
    {
        if (attemptNumber == 0 && _first is { } first)
        {
            _first = null;
            return first.Retry;
        }

        return Judge(outcome, attemptNumber).Retry;
    }

    /// <summary>The <c>Retry-After</c> delay of the response being retried, once; null for the usual backoff.</summary>
    public TimeSpan? TakeRetryAfter()
    {
        var delay = _retryAfter;
        _retryAfter = null;
        return delay;
    }

    /// <summary>The facts the rules read about an attempt that ended with <paramref name="outcome"/>.</summary>
    public RetryFacts Facts(Outcome<HttpResponseMessage> outcome, int attemptNumber)
    {
        var result = AttemptResult.Response;
        var status = 0;
        TimeSpan? retryAfter = null;
        if (outcome.Exception is { } exception)
        {
            result = RetryDecider.Classify(exception);
        }
        else
        {
            var response = outcome.Result!;
            status = (int)response.StatusCode;
            if (status == StatusCodes.Status503ServiceUnavailable)
            {
                retryAfter = RetryDecider.RetryAfter(ResponseHeaders.RetryAfter(response), _pool.Time.GetUtcNow());
            }
        }

        return new RetryFacts(result, status, _body.State, _idempotent, attemptNumber, _pool.Policy.Retries,
            _aborted.IsCancellationRequested || DeadlineToken.IsCancellationRequested, retryAfter, Remaining());
    }

    /// <summary>Asks the rules, then the budget; counts the retry (or the exhausted budget) and keeps a <c>Retry-After</c> for the backoff.</summary>
    private RetryDecision Judge(Outcome<HttpResponseMessage> outcome, int attemptNumber)
    {
        var decision = RetryDecider.Decide(Facts(outcome, attemptNumber));
        if (decision.Retry)
        {
            decision = RetryDecider.Settle(decision, SpendBudget(decision.Reason));
        }

        _retryAfter = decision.Retry ? decision.Delay : null;
        return decision;
    }

    /// <summary>A hedge (docs/resilience.md#hedging) is paid from the retry budget like a retry; false when it is spent.</summary>
    public bool SpendHedgeBudget()
    {
        if (_pool.Budget.TryWithdraw())
        {
            return true;
        }

        _pool.Metrics.RetryBudgetExhausted();
        _log.BudgetExhausted(_pool.Name);
        return false;
    }

    private bool SpendBudget(RetryReason reason)
    {
        if (_pool.Budget.TryWithdraw())
        {
            _pool.Metrics.Retried(reason);
            return true;
        }

        _pool.Metrics.RetryBudgetExhausted();
        _log.BudgetExhausted(_pool.Name);
        return false;
    }
}

using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http.Features;
using Polly;
using Polly.Timeout;
using Sidecar.Observability;
using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// One forwarded request from start to end: the body (buffered when small enough to be sent again),
/// the instances tried, the retry decision and the answer (the upstream's response, streamed, or
/// the agent's own problem). One object per request; everything else it needs is cached elsewhere.
/// </summary>
#pragma warning disable CA1001 // its stream wraps Kestrel's request body, which Kestrel disposes
internal sealed class ForwardCall
#pragma warning restore CA1001
{
    /// <summary>nginx's code for a caller that left before the answer: counted, never sent.</summary>
    private const int ClientClosedRequest = 499;

    private static readonly UriCreationOptions RawPathAndQuery = new() { DangerousDisablePathAndQueryCanonicalization = true };

    private readonly Forwarder _forwarder;
    private readonly string _target;
    private readonly HttpMethod _method;
    private readonly bool _idempotent;
    private byte[]? _buffered;
    private ForwardedRequestStream? _stream;
    private InstanceState? _current;
    private InstanceState? _next;
    private InstanceState? _firstTried;
    private List<InstanceState>? _moreTried;
    private TimeSpan? _retryAfter;
    private Outcome<HttpResponseMessage>? _replay;
    private long _deadlineAt;
    private CancellationToken _deadlineToken;
    private readonly long _started = Stopwatch.GetTimestamp();
    private Activity? _activity;
    private string? _errorCode;
    private HttpRequestMessage? _firstRequest;
    private RequestLogScope? _logScope;

    public ForwardCall(Forwarder forwarder, HttpContext context, ServicePool pool, string target, TimeSpan deadline)
    {
        _forwarder = forwarder;
        Context = context;
        Pool = pool;
        _target = target;
        Deadline = deadline;
        var method = context.Request.Method;
        _method = HttpMethod.Parse(method);
        _idempotent = HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) ||
                      HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) ||
                      !string.IsNullOrEmpty(context.Request.Headers["Idempotency-Key"]);
    }

    public HttpContext Context { get; }

    public ServicePool Pool { get; }

    /// <summary>The total deadline of this call.</summary>
    public TimeSpan Deadline { get; }

    /// <summary>The per-try time-out; none for a streamed body, which the deadline alone bounds.</summary>
    public TimeSpan TryTimeout => _stream is null ? Pool.Policy.TryTimeout : Timeout.InfiniteTimeSpan;

    public int Attempts { get; private set; }

    public bool HasTriedAny => _firstTried is not null;

    /// <summary>The X-Forwarded-* and trace values, computed once (at the start of <see cref="RunAsync"/>) and sent with every attempt.</summary>
    public ForwardedValues Forwarded { get; private set; } = null!;

    // A body can be sent again when it is buffered, or when it was never read (the request never left).
    private bool CanReplayBody => _stream is null || !_stream.Started;

    public bool HasTried(InstanceState state) =>
        ReferenceEquals(_firstTried, state) || (_moreTried is not null && _moreTried.Contains(state));

    /// <summary>Runs the call and writes the answer. Never throws for upstream or deadline failures.</summary>
    public async Task RunAsync()
    {
        try
        {
            // The agent's span when tracing is on (null otherwise): the instance sees it as its parent.
            _activity = _forwarder.Tracing.StartForward(Context, Pool.Name, _target);
            Forwarded = ProxyHeaders.ForwardedValues(Context, _forwarder.Via, _activity, _forwarder.Tracing.Propagators);
            if (RequestLogScope.Current is { } scope)
            {
                // The request's log lines name the trace the instance sees, and its line the service.
                _logScope = scope;
                scope.Service = Pool.Name;
                if (Forwarded.TraceParent is { } traceParent)
                {
                    scope.SetTraceParent(traceParent);
                }
            }

            if (!await PrepareBodyAsync().ConfigureAwait(false))
            {
                return;
            }

            // The first attempt's headers, copied and checked in the one pass over them: a caller's bad value is refused before any instance is picked.
            _firstRequest = NewRequest();
            if (ProxyHeaders.CopyRequestHeaders(Context, _firstRequest, Forwarded) is { } bad)
            {
                await WriteProblemAsync(StatusCodes.Status400BadRequest, ForwardingProblems.BadRequest, "Bad request",
                    $"The value of header '{LogText.Printable(bad.Name)}' holds the control character 0x{(int)bad.Character:x2}; only HTAB is allowed.").ConfigureAwait(false);
                return;
            }

            _next = Pool.Pick(this);
            if (_next is null)
            {
                await WriteProblemAsync(StatusCodes.Status503ServiceUnavailable, ForwardingProblems.NoInstance, "No available instance",
                    $"No instance of '{Pool.Name}' is UP and in rotation.").ConfigureAwait(false);
                return;
            }

            Pool.Budget.Deposit();
            var time = Pool.Time;
            _deadlineAt = time.GetTimestamp() + (long)(Deadline.TotalSeconds * time.TimestampFrequency);
            if (await RunFirstAttemptAsync().ConfigureAwait(false))
            {
                return;
            }

            // The first attempt needs the retry rules: the pipelines take over, starting from its outcome.
            var context = ResilienceContextPool.Shared.Get(Context.RequestAborted);
            context.Properties.Set(ForwardingPipelines.CallKey, this);
            Outcome<bool> outcome;
            try
            {
                outcome = await Pool.Pipelines.Deadline.ExecuteOutcomeAsync(
                    static (ctx, call) => call.ExecuteAsync(ctx), context, this).ConfigureAwait(false);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }

            if (outcome.Exception is not null && !Context.RequestAborted.IsCancellationRequested)
            {
                // The deadline fired (Polly turns the cancellation into TimeoutRejectedException); once the
                // response has started, Problems.WriteAsync aborts the connection instead.
                await WriteDeadlineExceededAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _firstRequest?.Dispose(); // not sent: no instance, or refused
            ReleaseCurrent();
            Complete();
        }
    }

    /// <summary>
    /// The fast path (docs/performance.md#what-was-tuned): the first attempt runs without the Polly pipelines, under
    /// one pooled <see cref="CancellationTokenSource"/> that fires at the per-try time-out (or at the
    /// deadline when that comes first), and a success is streamed back under the same source, moved
    /// to the deadline. Polly's layers cost a few async frames and two linked token sources per call
    /// (about 4% of the agent's profile samples) for calls that almost always need none of it.
    /// Anything a retry rule could apply to (an exception, 502, 503, 504) is handed to the pipelines
    /// as the first attempt's outcome (<see cref="_replay"/>), so the rules are applied in one place.
    /// True when the call is finished.
    /// </summary>
    private async Task<bool> RunFirstAttemptAsync()
    {
        var tryTimeout = TryTimeout;
        var deadlineFirst = tryTimeout == Timeout.InfiniteTimeSpan || Deadline <= tryTimeout;
        var cts = TimeoutSources.Rent(Pool.Time, deadlineFirst ? Deadline : tryTimeout);
        var registration = Context.RequestAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), cts);
        try
        {
            // Only a deadline that fires is the deadline: a per-try time-out is the instance's failure.
            _deadlineToken = deadlineFirst ? cts.Token : CancellationToken.None;
            var outcome = await AttemptAsync(cts.Token).ConfigureAwait(false);
            if (outcome.Exception is { } exception)
            {
                if (Context.RequestAborted.IsCancellationRequested)
                {
                    return true; // nobody is left to answer
                }

                if (exception is OperationCanceledException && cts.IsCancellationRequested)
                {
                    if (deadlineFirst)
                    {
                        await WriteDeadlineExceededAsync().ConfigureAwait(false);
                        return true;
                    }

                    // What Polly's per-try time-out would have produced.
                    outcome = Outcome.FromException<HttpResponseMessage>(new TimeoutRejectedException("The per-try time-out elapsed.", tryTimeout, exception));
                }

                _replay = outcome;
                return false;
            }

            var response = outcome.Result!;
            if ((int)response.StatusCode is 502 or 503 or 504 && Pool.Policy.Retries > 0)
            {
                _replay = outcome;
                return false;
            }

            using (response)
            {
                if (!deadlineFirst)
                {
                    // The response body is bounded by what is left of the deadline.
                    var remaining = Remaining();
                    if (remaining <= TimeSpan.Zero)
                    {
                        await WriteDeadlineExceededAsync().ConfigureAwait(false);
                        return true;
                    }

                    TimeoutSources.Extend(cts, remaining);
                    if (cts.IsCancellationRequested && !Context.RequestAborted.IsCancellationRequested)
                    {
                        // The per-try time-out fired between the headers and here: it no longer applies,
                        // so the body gets a fresh source for the rest of the deadline.
                        registration.Dispose();
                        TimeoutSources.Return(cts, Pool.Time);
                        cts = TimeoutSources.Rent(Pool.Time, remaining);
                        registration = Context.RequestAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), cts);
                    }

                    _deadlineToken = cts.Token;
                }

                var copied = await CopyResponseAsync(response, cts.Token).ConfigureAwait(false);
                if (copied.Exception is not null && !Context.RequestAborted.IsCancellationRequested)
                {
                    await WriteDeadlineExceededAsync().ConfigureAwait(false);
                }
            }

            return true;
        }
        finally
        {
            registration.Dispose();
            TimeoutSources.Return(cts, Pool.Time);
        }
    }

    private async ValueTask<Outcome<bool>> ExecuteAsync(ResilienceContext context)
    {
        _deadlineToken = context.CancellationToken;
        var outcome = await Pool.Pipelines.Attempts.ExecuteOutcomeAsync(
            static (ctx, call) => call.AttemptAsync(ctx.CancellationToken), context, this).ConfigureAwait(false);

        if (outcome.Exception is { } exception)
        {
            if (exception is OperationCanceledException && (Context.RequestAborted.IsCancellationRequested || _deadlineToken.IsCancellationRequested))
            {
                return Outcome.FromException<bool>(exception);
            }

            await WriteFailureAsync(exception).ConfigureAwait(false);
            return Outcome.FromResult(true);
        }

        using var response = outcome.Result!;
        return await CopyResponseAsync(response, context.CancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<Outcome<HttpResponseMessage>> AttemptAsync(CancellationToken cancellationToken)
    {
        if (_replay is { } replay)
        {
            // The fast path's first attempt, already made: the retry strategy judges it like any other.
            _replay = null;
            return replay;
        }

        // The previous attempt's instance is no longer in flight for this call.
        _current?.Release();
        _current = null;
        var instance = _next ?? Pool.Pick(this);
        _next = null;
        if (instance is null)
        {
            return Outcome.FromException<HttpResponseMessage>(new NoInstanceException());
        }

        _current = instance;
        Remember(instance);
        Attempts++;
        _retryAfter = null;
        if (_activity is { IsAllDataRequested: true })
        {
            AgentTracing.SetInstance(_activity, instance.Instance);
        }

        var attempt = _activity is null ? null : AgentTracing.StartAttempt(_activity, _method.Method, instance.Instance, instance.Prefix, _target, Attempts);
        var request = CreateRequest(instance, attempt);
        try
        {
            var response = await _forwarder.Invoker.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var code = (int)response.StatusCode;
            if (attempt is not null)
            {
                AgentTracing.StopAttempt(attempt, code, null);
            }

            if (code == StatusCodes.Status101SwitchingProtocols)
            {
                // The forwarder never asks for an upgrade (Upgrade is hop-by-hop): relaying this one would
                // turn the caller's request into a one-way stream of another protocol.
                response.Dispose();
                Pool.RecordFailure(instance);
                return Outcome.FromException<HttpResponseMessage>(new UnexpectedUpgradeException());
            }

            if (code >= 500)
            {
                Pool.RecordFailure(instance);
            }
            else
            {
                ServicePool.RecordSuccess(instance);
                if (code == StatusCodes.Status429TooManyRequests && RetryAfter(response) is { } wait)
                {
                    // Honoured for the calls that follow (not retried: the app gets this 429 and its Retry-After).
                    Pool.Hold(instance, wait);
                }
            }

            return Outcome.FromResult(response);
        }
#pragma warning disable CA1031 // every failure becomes an outcome the retry strategy judges
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (attempt is not null)
            {
                AgentTracing.StopAttempt(attempt, null, ex);
            }

            // The caller leaving, the deadline, or our own body trouble say nothing about the instance.
            if (!Context.RequestAborted.IsCancellationRequested && !_deadlineToken.IsCancellationRequested &&
                _stream is not { TooLarge: true } and not { ClientFailed: true })
            {
                Pool.RecordFailure(instance);
            }

            request.Dispose();
            return Outcome.FromException<HttpResponseMessage>(ex);
        }
    }

    /// <summary>
    /// The retry rules (docs/forwarding.md#deadlines-retries-ejection): any method when the request never left; 502, 503, 504 and
    /// per-try time-outs only for idempotent methods or with an <c>Idempotency-Key</c>; never 4xx; never
    /// a body that was already streamed; a <c>Retry-After</c> beyond the deadline ends the call; and
    /// only while the retry budget lasts.
    /// </summary>
    public bool ShouldRetry(Outcome<HttpResponseMessage> outcome, int attemptNumber)
    {
        if (attemptNumber >= Pool.Policy.Retries || Context.RequestAborted.IsCancellationRequested || _deadlineToken.IsCancellationRequested)
        {
            return false;
        }

        if (outcome.Exception is { } exception)
        {
            if (exception is NoInstanceException or UnexpectedUpgradeException || _stream is { TooLarge: true } or { ClientFailed: true })
            {
                return false;
            }

            var neverLeft = ForwardingErrors.NeverLeft(exception);
            var retry = neverLeft
                ? CanReplayBody
                : exception is TimeoutRejectedException or HttpRequestException or IOException && _idempotent && CanReplayBody;
            return retry && SpendBudget(
                neverLeft ? RetryReason.ConnectError : exception is TimeoutRejectedException ? RetryReason.TryTimeout : RetryReason.TransportError);
        }

        var response = outcome.Result!;
        switch ((int)response.StatusCode)
        {
            case 502 or 504:
                return _idempotent && CanReplayBody && SpendBudget(response.StatusCode == HttpStatusCode.BadGateway ? RetryReason.Status502 : RetryReason.Status504);
            case 503:
                if (!_idempotent || !CanReplayBody)
                {
                    return false;
                }

                if (RetryAfter(response) is { } delay)
                {
                    // Waiting past the deadline is pointless: the caller gets the 503 and its Retry-After.
                    if (delay >= Remaining())
                    {
                        return false;
                    }

                    _retryAfter = delay;
                }

                return SpendBudget(RetryReason.Status503);
            default:
                return false;
        }
    }

    /// <summary>The <c>Retry-After</c> delay of the response being retried, once; null for the usual backoff.</summary>
    public TimeSpan? TakeRetryAfter()
    {
        var delay = _retryAfter;
        _retryAfter = null;
        return delay;
    }

    private bool SpendBudget(RetryReason reason)
    {
        if (Pool.Budget.TryWithdraw())
        {
            Pool.Metrics.Retried(reason);
            return true;
        }

        Pool.Metrics.RetryBudgetExhausted();
        _forwarder.Log.BudgetExhausted(Pool.Name);
        return false;
    }

    /// <summary>What is left of the deadline, never zero (Polly reads a zero time-out as none).</summary>
    public TimeSpan RemainingDeadline
    {
        get
        {
            var remaining = Remaining();
            return remaining > TimeSpan.FromMilliseconds(1) ? remaining : TimeSpan.FromMilliseconds(1);
        }
    }

    /// <summary>Counts the call (what the caller got, how long it took) and ends its span.</summary>
    private void Complete()
    {
        var response = Context.Response;
        var status = Context.RequestAborted.IsCancellationRequested && !response.HasStarted
            ? ClientClosedRequest
            : response.StatusCode;
        Pool.Metrics.Completed(MethodClass.Of(Context.Request.Method), status, Stopwatch.GetTimestamp() - _started);
        if (_logScope is not null)
        {
            _logScope.Attempts = Attempts;
        }
        if (_activity is not null)
        {
            AgentTracing.StopForward(_activity, status, Attempts, _errorCode);
        }
    }

    private TimeSpan Remaining() => Pool.Time.GetElapsedTime(Pool.Time.GetTimestamp(), _deadlineAt);

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (header?.Date is { } date)
        {
            var delay = date - Pool.Time.GetUtcNow();
            return delay < TimeSpan.Zero ? TimeSpan.Zero : delay;
        }

        return null;
    }

    private HttpRequestMessage CreateRequest(InstanceState instance, Activity? attempt)
    {
        // The first attempt's headers were copied already; a retry's are copied again (a message is sent once).
        var request = _firstRequest;
        _firstRequest = null;
        if (request is null)
        {
            request = NewRequest();
            ProxyHeaders.CopyRequestHeaders(Context, request, Forwarded);
        }

        // The path was checked to be origin-form (TargetPath), so the authority is the instance's, always.
        request.RequestUri = new Uri(instance.Prefix + _target, in RawPathAndQuery);
        ProxyHeaders.InjectTrace(request, Forwarded, attempt);
        return request;
    }

    private HttpRequestMessage NewRequest()
    {
        var request = new HttpRequestMessage(_method, (Uri?)null)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };

        if (_buffered is not null || _stream is not null)
        {
            request.Content = new ForwardedContent(this);
        }

        return request;
    }

    internal bool TryComputeBodyLength(out long length)
    {
        if (_buffered is not null)
        {
            length = _buffered.Length;
            return true;
        }

        length = _stream?.DeclaredLength ?? 0;
        return _stream?.DeclaredLength is not null;
    }

    internal Task WriteBodyAsync(Stream target, CancellationToken cancellationToken) =>
        _buffered is not null
            ? target.WriteAsync(_buffered, cancellationToken).AsTask()
            : _stream!.CopyToAsync(target, cancellationToken);

    /// <summary>
    /// Bodies up to <c>RetryBufferSize</c> are read whole (so a retry can send them again); larger or
    /// unknown-length bodies stream. False when the agent has answered (413).
    /// </summary>
    private async Task<bool> PrepareBodyAsync()
    {
        var request = Context.Request;
        var policy = Pool.Policy;
        var declared = request.ContentLength;
        if (policy.MaxBodySize > 0 && declared > policy.MaxBodySize)
        {
            await WriteTooLargeAsync().ConfigureAwait(false);
            return false;
        }

        // The forwarder enforces its own limit (MaxBodySize); Kestrel's, for the agent's own routes (1 MiB, KestrelLimits), would cut uploads short.
        if (Context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        var canHaveBody = Context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? declared > 0;
        if (!canHaveBody)
        {
            // An explicit "Content-Length: 0" is kept (a POST without it is refused by some servers).
            _buffered = declared == 0 ? [] : null;
            return true;
        }

        var bufferSize = policy.RetryBufferSize;
        if (declared is { } length && length <= bufferSize)
        {
            var buffer = new byte[length];
            await request.Body.ReadExactlyAsync(buffer, Context.RequestAborted).ConfigureAwait(false);
            _buffered = buffer;
            return true;
        }

        if (declared is not null)
        {
            _stream = new ForwardedRequestStream(request.Body, [], declared, policy.MaxBodySize);
            return true;
        }

        // Chunked: read up to the buffer size plus one byte to learn whether the body fits.
        var scratch = System.Buffers.ArrayPool<byte>.Shared.Rent(bufferSize + 1);
        try
        {
            var read = await request.Body.ReadAtLeastAsync(scratch.AsMemory(0, bufferSize + 1), bufferSize + 1, throwOnEndOfStream: false, Context.RequestAborted).ConfigureAwait(false);
            if (policy.MaxBodySize > 0 && read > policy.MaxBodySize)
            {
                await WriteTooLargeAsync().ConfigureAwait(false);
                return false;
            }

            // Copies, not the pooled array: a cancelled send may still be reading the content.
            if (read <= bufferSize)
            {
                _buffered = scratch.AsSpan(0, read).ToArray();
            }
            else
            {
                _stream = new ForwardedRequestStream(request.Body, scratch.AsSpan(0, read).ToArray(), null, policy.MaxBodySize);
            }

            return true;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private async ValueTask<Outcome<bool>> CopyResponseAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var answer = Context.Response;
        answer.StatusCode = (int)response.StatusCode;
        ProxyHeaders.CopyResponseHeaders(response, answer.Headers);
        try
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await body.CopyToAsync(answer.Body, cancellationToken).ConfigureAwait(false);
            return Outcome.FromResult(true);
        }
        catch (OperationCanceledException ex)
        {
            // The deadline or the caller: the outer pipeline decides (504, or an aborted connection).
            return Outcome.FromException<bool>(ex);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            // The upstream died mid-body (or the caller left): a half answer must not look whole.
            if (!Context.RequestAborted.IsCancellationRequested && _current is { } instance)
            {
                Pool.RecordFailure(instance);
            }

            _forwarder.Log.ResponseAborted(Pool.Name, ex.Message);
            Context.Abort();
            return Outcome.FromResult(true);
        }
    }

    private Task WriteFailureAsync(Exception exception)
    {
        if (exception is NoInstanceException)
        {
            return WriteProblemAsync(StatusCodes.Status503ServiceUnavailable, ForwardingProblems.NoInstance, "No available instance",
                $"No instance of '{Pool.Name}' is UP and in rotation.");
        }

        if (_stream is { TooLarge: true })
        {
            return WriteTooLargeAsync();
        }

        if (_stream is { ClientFailed: true })
        {
            return WriteProblemAsync(StatusCodes.Status400BadRequest, ForwardingProblems.BadRequest, "Bad request",
                "The request body could not be read from the caller.");
        }

        if (exception is UnexpectedUpgradeException)
        {
            return WriteProblemAsync(StatusCodes.Status502BadGateway, ForwardingProblems.BadUpstreamResponse, "Bad upstream response",
                $"'{Pool.Name}' answered 101 Switching Protocols to a request that asked for no upgrade.");
        }

        if (exception is TimeoutRejectedException)
        {
            return WriteProblemAsync(StatusCodes.Status504GatewayTimeout, ForwardingProblems.UpstreamTimeout, "Upstream time-out",
                $"'{Pool.Name}' did not answer within the per-try time-out of {Configuration.DurationParser.Format(Pool.Policy.TryTimeout)} ({Attempts} attempt(s)).");
        }

        return WriteProblemAsync(StatusCodes.Status502BadGateway, ForwardingProblems.UpstreamUnreachable, "Upstream unreachable",
            $"'{Pool.Name}' could not be reached ({Attempts} attempt(s)): {ForwardingErrors.Describe(exception)}");
    }

    private Task WriteDeadlineExceededAsync() =>
        WriteProblemAsync(StatusCodes.Status504GatewayTimeout, ForwardingProblems.DeadlineExceeded, "Deadline exceeded",
            $"The call to '{Pool.Name}' did not complete within its deadline of {Configuration.DurationParser.Format(Deadline)} ({Attempts} attempt(s)).");

    private Task WriteTooLargeAsync() =>
        WriteProblemAsync(StatusCodes.Status413PayloadTooLarge, ForwardingProblems.BodyTooLarge, "Request body too large",
            $"Calls to '{Pool.Name}' accept bodies up to {Pool.Policy.MaxBodySize} bytes ({Pool.Policy.MaxBodySizeKey}).");

    private Task WriteProblemAsync(int status, string code, string title, string detail)
    {
        Pool.Metrics.Error(code);
        _errorCode = code;
        _forwarder.Log.CallFailed(Pool.Name, status, code, Attempts, detail);
        return Problems.WriteAsync(Context, status, code, title, detail);
    }

    private void Remember(InstanceState instance)
    {
        if (_firstTried is null)
        {
            _firstTried = instance;
        }
        else if (!HasTried(instance))
        {
            (_moreTried ??= []).Add(instance);
        }
    }

    private void ReleaseCurrent()
    {
        _current?.Release();
        _current = null;
        _next?.Release();
        _next = null;
    }
}

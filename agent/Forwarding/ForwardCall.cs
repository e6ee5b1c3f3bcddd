using System.Net;
using System.Runtime.CompilerServices;
using Polly;
using Polly.Timeout;
using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// One forwarded request from start to end (docs/architecture.md#the-path-of-a-forwarded-request): the body
/// (<see cref="RequestBody"/>), the instances tried (<see cref="CallInstances"/>), each attempt, the
/// retry decision (<see cref="CallRetries"/>, whose rules are <see cref="RetryDecider"/>'s) and the
/// answer: the upstream's response, streamed, or the agent's own problem (<see cref="CallProblem"/>).
/// What it leaves for observers is <see cref="CallTelemetry"/>'s. One object per request (the forwarding core keeps
/// one per connection and begins it again for each request, <see cref="Begin"/>); everything else it needs is cached elsewhere.
/// The caller's side, what the call reads of the request and how it writes the answer, is the exchange's
/// (docs/performance.md#the-exchange): the members below that a subclass gives, <see cref="KestrelForwardCall"/>'s
/// over Kestrel's <c>HttpContext</c> for every call today. The rules are written here once, for every exchange.
/// </summary>
internal abstract partial class ForwardCall
{
    private readonly CallInstances _instances = new();
    private readonly CallTelemetry _telemetry = new();
    private readonly CallRetries _retries = new();
    private HttpMethod _method = null!;
    private string? _methodName; // the caller's method _method was parsed from: a kept call object's next call most often has the same
    private bool _idempotent;
    private RequestBody _body = RequestBody.None;
    private ForwardedValues _forwarded = null!;
    private Outcome<HttpResponseMessage>? _replay;

    // The request of a bodiless first attempt sent straight to the lean client, kept with this object for its next call
    // (a call object the forwarding core keeps per connection: ForwardCall.Begin): such a request is never disposed nor
    // marked as sent, so it is aimed again rather than made again. Lent to one attempt at a time, back when the call ends.
    private Http1.OriginFormRequest? _kept;
    private Http1.OriginFormRequest? _lent;

    /// <param name="method">The caller's method.</param>
    /// <param name="fields">The caller's fields (read here for <c>Idempotency-Key</c>).</param>
    /// <param name="aborted">Fires when the caller leaves.</param>
    protected ForwardCall(Forwarder forwarder, ServicePool pool, string target, TimeSpan deadline, string method, CallerFields fields, CancellationToken aborted)
    {
        Forwarder = forwarder;
        Begin(pool, target, deadline, method, fields, aborted);
    }

    public ServicePool Pool { get; private set; } = null!;

    protected Forwarder Forwarder { get; }

    /// <summary>The origin-form path and query sent to the instance.</summary>
    protected string Target { get; private set; } = null!;

    /// <summary>
    /// Takes a call (the parameters are the constructor's) with nothing left of the one before: the forwarding core keeps
    /// one call object per connection for its calls one after the other (docs/performance.md#the-calls-objects-kept-per-connection-2026-12-04-second-session).
    /// Only once the call before has ended (<see cref="RunAsync"/> returned, or <see cref="Close"/> called): nothing of a call outlives it.
    /// </summary>
    protected void Begin(ServicePool pool, string target, TimeSpan deadline, string method, CallerFields fields, CancellationToken aborted)
    {
        Pool = pool;
        Target = target;
        if (!ReferenceEquals(method, _methodName))
        {
            _method = HttpMethod.Parse(method);
            _methodName = method;
        }

        // Idempotency-Key is looked up only for a method that is not idempotent by itself.
        _idempotent = RetryDecider.IsIdempotent(method, false) || !string.IsNullOrEmpty(fields["Idempotency-Key"]);
        _retries.Begin(pool, Forwarder.Log, _idempotent, deadline, aborted);
        _instances.Forget();
        _telemetry.Restart();
        _body = RequestBody.None;
        _forwarded = null!;
        _replay = null;
        Attempts = 0;
    }

    /// <summary>Fires when the caller leaves.</summary>
    protected abstract CancellationToken Aborted { get; }

    /// <summary>The caller's fields.</summary>
    protected abstract CallerFields Fields { get; }

    /// <summary>Whether the answer's head has gone to the caller (a problem can then no longer be written).</summary>
    protected abstract bool AnswerStarted { get; }

    /// <summary>The answer's status as it stands.</summary>
    protected abstract int AnswerStatus { get; }

    /// <summary>Reads the caller's body as the policy's plan says (<see cref="RequestBody"/>); null when it is over <c>MaxBodySize</c>.</summary>
    protected abstract ValueTask<RequestBody?> ReadBodyAsync(ServicePolicy policy);

    /// <summary>Starts the call's telemetry (<see cref="CallTelemetry.Start(Forwarder, HttpContext, string, string)"/>): the values every attempt sends.</summary>
    protected abstract ForwardedValues StartTelemetry(CallTelemetry telemetry);

    /// <summary>Starts the answer from the instance's: its status and head with the proxy's rules (<see cref="ResponseHeaders"/>); returns where its body goes.</summary>
    protected abstract Stream StartAnswer(HttpResponseMessage response);

    /// <summary>The head the lean client writes the instance's fields into as it reads them (<see cref="Http1.LeanResponse.Answer"/>: the forwarding core's), or null.</summary>
    protected virtual Http1.AnswerHead? Answer => null;

    /// <summary>
    /// No caller's field holds a control character (<see cref="ProxyHeaders.FindControlCharacter(CallerFields)"/> would find none):
    /// the exchange took only such heads.
    /// </summary>
    protected virtual bool FieldsChecked => false;

    /// <summary>The instance's body was copied whole.</summary>
    protected virtual void AnswerCopied()
    {
    }

    /// <summary>Ends the caller's connection without an answer's end: a half answer must not look whole.</summary>
    protected abstract void Abort();

    /// <summary>Answers with the agent's own problem (<see cref="Platform.Problems"/>), or aborts when the answer has started.</summary>
    protected abstract Task WriteProblemAsync(int status, string code, string title, string detail);

    /// <summary>The call is over, counted and its instances released.</summary>
    protected virtual void Ended()
    {
    }

    public int Attempts { get; private set; }

    /// <summary>Runs the call and writes the answer. Never throws for upstream or deadline failures.</summary>
    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder))] // a pooled state machine: none allocated per call
    public async ValueTask RunAsync()
    {
        try
        {
            _forwarded = StartTelemetry(_telemetry);
            if (await ReadBodyAsync(Pool.Policy).ConfigureAwait(false) is not { } body)
            {
                await WriteProblemAsync(CallProblem.TooLarge(Pool.Name, Pool.Policy)).ConfigureAwait(false);
                return;
            }

            _body = body;
            await OpenAsync().ConfigureAwait(false);
        }
        finally
        {
            Close();
        }
    }

    /// <summary>
    /// <see cref="RunAsync"/> for an exchange whose request has no body (the forwarding core's), without RunAsync's frame:
    /// one async method fewer to resume on every answer (docs/performance.md#fewer-frames-on-a-calls-path-2026-12-04-sixth-session).
    /// The caller calls <see cref="Close"/> once it ends, thrown or not.
    /// </summary>
    internal ValueTask RunBodilessAsync()
    {
        _forwarded = StartTelemetry(_telemetry);
        return OpenAsync();
    }

    /// <summary>What every call does once its body is read: the caller's fields checked, the first instance picked, then the attempts; or the problem when it refuses.</summary>
    private ValueTask OpenAsync()
    {
        // A caller's bad value is refused before any instance is picked; each attempt writes the headers then.
        if (!FieldsChecked && ProxyHeaders.FindControlCharacter(Fields) is { } bad)
        {
            return new ValueTask(WriteProblemAsync(CallProblem.BadHeader(bad.Name, bad.Character)));
        }

        if (!_instances.PickFirst(Pool))
        {
            return new ValueTask(WriteProblemAsync(CallProblem.NoInstance(Pool.Name)));
        }

        Pool.Budget.Deposit();
        _retries.Start(_body);
        return RunAttemptsAsync();
    }

    /// <summary>The call is over: its instances released, its kept request back, its telemetry completed.</summary>
    internal void Close()
    {
        _instances.ReleaseAll();
        (_kept, _lent) = (_lent ?? _kept, null);
        var status = Aborted.IsCancellationRequested && !AnswerStarted ? CallTelemetry.ClientClosedRequest : AnswerStatus;
        _telemetry.Complete(_method.Method, status, Pool.Metrics, Attempts);
        Ended();
    }

    /// <summary>The attempts after the first, which the retry rules asked for: the pipelines take over, starting from the first attempt's outcome (<see cref="_replay"/>).</summary>
    private async ValueTask RunRetriesAsync()
    {
        var context = ResilienceContextPool.Shared.Get(Aborted);
        context.Properties.Set(ForwardingPipelines.CallKey, _retries);
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

        if (outcome.Exception is not null && !Aborted.IsCancellationRequested)
        {
            // The deadline fired (Polly turns the cancellation into TimeoutRejectedException); once the
            // response has started, Problems.WriteAsync aborts the connection instead.
            await WriteDeadlineExceededAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The fast path (docs/performance.md#what-was-tuned): the first attempt runs without the Polly pipelines, under
    /// one pooled <see cref="TimeoutSource"/> that fires at the per-try time-out (or at the
    /// deadline when that comes first), and a success is streamed back under the same source, moved
    /// to the deadline. Polly's layers cost a few async frames and two linked token sources per call
    /// (about 4% of the agent's profile samples) for calls that almost always need none of it.
    /// The outcome is judged by the same rules as every later attempt (<see cref="CallRetries.JudgeFirst"/>);
    /// a retry hands it to the pipelines (<see cref="_replay"/>, <see cref="RunRetriesAsync"/>), which take that judgement as theirs.
    /// </summary>
    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder))] // a pooled state machine: none allocated per call
    private async ValueTask RunAttemptsAsync()
    {
        var tryTimeout = _retries.TryTimeout;
        var deadline = _retries.Deadline;
        var deadlineFirst = tryTimeout == Timeout.InfiniteTimeSpan || deadline <= tryTimeout;
        var cts = TimeoutSources.Rent(Pool.Time, deadlineFirst ? deadline : tryTimeout);
        var registration = Aborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), cts.Source);
        var retry = false;
        try
        {
            // Only a deadline that fires is the deadline: a per-try time-out is the instance's failure.
            _retries.DeadlineToken = deadlineFirst ? cts.Token : CancellationToken.None;
            Outcome<HttpResponseMessage> outcome;
            if (Pool.Hedges is { } hedges && HedgeDecider.MayHedge(true, _idempotent, _body.State))
            {
                outcome = await HedgedAttempt.RunAsync(this, hedges, cts.Source).ConfigureAwait(false);
            }
            else if (_instances.Next(Pool) is not { } instance)
            {
                outcome = NoInstance();
            }
            else
            {
                // SendAsync's parts in this frame: one async method fewer to resume on every answer
                // (docs/performance.md#the-added-fields-and-the-time-out-once-per-connection-2026-12-05-twelfth-session).
                var (request, attempt) = StartAttempt(instance, null);
                try
                {
                    outcome = Answered(instance, attempt, await (await Send(request, cts.Token)).ConfigureAwait(false));
                }
#pragma warning disable CA1031 // every failure becomes an outcome the retry strategy judges
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    outcome = Failed(instance, null, attempt, request, ex);
                }
            }

            if (deadlineFirst && outcome.Exception is null && cts.IsCancellationRequested && !Aborted.IsCancellationRequested && _retries.Remaining() is { Ticks: > 0 } left)
            {
                // A first attempt that lost a hedge race was cancelled through this source (HedgedAttempt): the winner's answer gets a fresh one.
                Renew(ref cts, ref registration, left);
                _retries.DeadlineToken = cts.Token;
            }

            if (outcome.Exception is { } exception)
            {
                if (Aborted.IsCancellationRequested)
                {
                    return; // nobody is left to answer
                }

                if (exception is OperationCanceledException && cts.IsCancellationRequested)
                {
                    if (deadlineFirst)
                    {
                        await WriteDeadlineExceededAsync().ConfigureAwait(false);
                        return;
                    }

                    // What Polly's per-try time-out would have produced.
                    outcome = Outcome.FromException<HttpResponseMessage>(new TimeoutRejectedException("The per-try time-out elapsed.", tryTimeout, exception));
                }
            }

            if (_retries.JudgeFirst(outcome).Retry)
            {
                _replay = outcome;
                retry = true;
            }
            else if (outcome.Exception is { } failure)
            {
                await WriteFailureAsync(failure).ConfigureAwait(false);
            }
            else
            {
                using var response = outcome.Result!;
                if (!deadlineFirst)
                {
                    // The response body is bounded by what is left of the deadline.
                    var remaining = _retries.Remaining();
                    if (remaining <= TimeSpan.Zero)
                    {
                        await WriteDeadlineExceededAsync().ConfigureAwait(false);
                        return;
                    }

                    cts.Extend(remaining);
                    if (cts.IsCancellationRequested && !Aborted.IsCancellationRequested)
                    {
                        // The per-try time-out fired between the headers and here (or the first attempt lost a hedge race):
                        // it no longer applies, so the body gets a fresh source for the rest of the deadline.
                        Renew(ref cts, ref registration, remaining);
                    }

                    _retries.DeadlineToken = cts.Token;
                }

                var copied = await CopyResponseAsync(response, cts.Token).ConfigureAwait(false);
                if (copied.Exception is not null && !Aborted.IsCancellationRequested)
                {
                    await WriteDeadlineExceededAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            registration.Dispose();
            TimeoutSources.Return(cts, Pool.Time);
        }

        if (retry)
        {
            await RunRetriesAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask<Outcome<bool>> ExecuteAsync(ResilienceContext context)
    {
        _retries.DeadlineToken = context.CancellationToken;
        var outcome = await Pool.Pipelines.Attempts.ExecuteOutcomeAsync(
            static (ctx, call) => call.AttemptAsync(null, ctx.CancellationToken), context, this).ConfigureAwait(false);

        if (outcome.Exception is { } exception)
        {
            if (exception is OperationCanceledException && (Aborted.IsCancellationRequested || _retries.DeadlineToken.IsCancellationRequested))
            {
                return Outcome.FromException<bool>(exception);
            }

            await WriteFailureAsync(exception).ConfigureAwait(false);
            return Outcome.FromResult(true);
        }

        using var response = outcome.Result!;
        return await CopyResponseAsync(response, context.CancellationToken).ConfigureAwait(false);
    }

    internal ValueTask<Outcome<HttpResponseMessage>> AttemptAsync(HedgeLeg? leg, CancellationToken cancellationToken)
    {
        if (_replay is { } replay)
        {
            // The fast path's first attempt, already made and judged: the retry strategy takes it as it is.
            _replay = null;
            return new(replay);
        }

        var instance = _instances.Next(Pool);
        return instance is null ? new(NoInstance()) : SendAsync(instance, leg, cancellationToken);
    }

    private static Outcome<HttpResponseMessage> NoInstance() => Outcome.FromException<HttpResponseMessage>(new NoInstanceException());

    /// <summary>One attempt to <paramref name="instance"/>; <paramref name="leg"/> when it races a hedge (a lost leg's failure is not the instance's).</summary>
    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    internal async ValueTask<Outcome<HttpResponseMessage>> SendAsync(InstanceState instance, HedgeLeg? leg, CancellationToken cancellationToken)
    {
        var (request, attempt) = StartAttempt(instance, leg);
        try
        {
            return Answered(instance, attempt, await (await Send(request, cancellationToken)).ConfigureAwait(false));
        }
#pragma warning disable CA1031 // every failure becomes an outcome the retry strategy judges
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return Failed(instance, leg, attempt, request, ex);
        }
    }

    /// <summary>An attempt on <paramref name="instance"/> starts: counted, its span started, its request made (<see cref="SendAsync"/>'s first part).</summary>
    private (Http1.OriginFormRequest Request, System.Diagnostics.Activity? Attempt) StartAttempt(InstanceState instance, HedgeLeg? leg)
    {
        Attempts++;
        var attempt = _telemetry.StartAttempt(_method.Method, instance, Target, Attempts);
        return (CreateRequest(instance, attempt, racing: leg is not null), attempt);
    }

    // A request aimed at the lean client goes to it directly: no Task per attempt (docs/performance.md#what-was-tuned), and
    // its answer's read awaited in the caller's frame (docs/performance.md#the-answers-read-in-the-callers-frame-2026-12-05-thirteenth-session).
    private Http1.LeanExchange Send(Http1.OriginFormRequest request, CancellationToken cancellationToken) =>
        request.Head is not null && Http1.LeanHttp1Handler.Takes(request)
            ? Forwarder.Lean!.Exchange(request, cancellationToken)
            : new(new ValueTask<HttpResponseMessage>(Forwarder.Invoker.SendAsync(request, cancellationToken)));

    /// <summary>The instance answered: its span stopped, the answer told to the pool (<see cref="SendAsync"/>'s end).</summary>
    private Outcome<HttpResponseMessage> Answered(InstanceState instance, System.Diagnostics.Activity? attempt, HttpResponseMessage response)
    {
        var code = (int)response.StatusCode;
        if (attempt is not null)
        {
            Observability.AgentTracing.StopAttempt(attempt, code, null);
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
            if (code == StatusCodes.Status429TooManyRequests && RetryDecider.RetryAfter(ResponseHeaders.RetryAfter(response), Pool.Time.GetUtcNow()) is { } wait)
            {
                // Honoured for the calls that follow (not retried: the app gets this 429 and its Retry-After).
                Pool.Hold(instance, wait);
            }
        }

        return Outcome.FromResult(response);
    }

    /// <summary>The attempt failed: its span stopped, the failure told to the pool when it is the instance's, the request disposed (<see cref="SendAsync"/>'s end).</summary>
    private Outcome<HttpResponseMessage> Failed(InstanceState instance, HedgeLeg? leg, System.Diagnostics.Activity? attempt, Http1.OriginFormRequest request, Exception ex)
    {
        if (attempt is not null)
        {
            Observability.AgentTracing.StopAttempt(attempt, null, ex);
        }

        // The caller leaving, the deadline, a hedge race lost, or our own body trouble say nothing about the instance.
        if (!Aborted.IsCancellationRequested && !_retries.DeadlineToken.IsCancellationRequested && !_body.CallersFault && leg is not { Lost: true })
        {
            Pool.RecordFailure(instance);
        }

        request.Dispose();
        if (ReferenceEquals(request, _lent))
        {
            _lent = null; // disposed: not aimed again
        }

        return Outcome.FromException<HttpResponseMessage>(ex);
    }

    private Http1.OriginFormRequest CreateRequest(InstanceState instance, System.Diagnostics.Activity? attempt, bool racing)
    {
        // The path was checked to be origin-form (TargetPath), so the authority is the instance's, always.
        // The lean client takes a plain target as it is, with no URI parsed per attempt, and the head written
        // from the caller's headers with no copy between (docs/performance.md#what-was-tuned); every attempt, a
        // retry's or a hedge's too, writes the same head (a message is sent once).
        if (Forwarder.LeanHttp1 && instance.Origin.IsHttp && Http1.OriginFormRequest.IsPlain(Target))
        {
            // Lent only to a bodiless attempt that races no hedge and is sent straight to the lean client (Takes): none
            // other then holds it once the call ended, and none but that attempt holds it meanwhile.
            var lend = _lent is null && !_body.HasContent && Pool.Hedges is null;
            var lean = lend && _kept is { } kept ? kept : NewRequest();
            _kept = lend ? null : _kept;
            lean.Method = _method;
            if (lean.Head is ForwardedHead head)
            {
                head.Aim(Fields, _forwarded, attempt);
            }
            else
            {
                head = new ForwardedHead(Fields, _forwarded, attempt);
            }

            lean.Aim(instance.Origin, Target, head);
            // An attempt that races a hedge keeps its fields: two such answers must not be read into one head.
            lean.Answer = racing ? null : Answer;
            if (lend && Http1.LeanHttp1Handler.Takes(lean))
            {
                _lent = lean; // kept when the call ends, unless disposed
            }

            return lean;
        }

        var request = NewRequest();
        request.RequestUri = Http1.OriginFormRequest.AbsoluteUri(instance.Prefix, Target);
        var target = new MessageHeaders(request);
        ProxyHeaders.CopyRequestHeaders(Fields, ref target, _forwarded, check: true);
        ProxyHeaders.InjectTrace(request, _forwarded, attempt);
        return request;
    }

    private Http1.OriginFormRequest NewRequest()
    {
        var request = new Http1.OriginFormRequest(_method)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };

        if (_body.HasContent)
        {
            request.Content = new ForwardedContent(_body);
        }

        return request;
    }

    private async ValueTask<Outcome<bool>> CopyResponseAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var answer = StartAnswer(response);
        try
        {
            // The lean client's body is at hand (no Task<Stream>); another handler's is asked for as it expects.
            // (Its body as set, not ReadAsStream's, which HttpContent keeps: a kept answer's content has the next body.)
            var body = response.Content is Http1.ResponseContent lean ? lean.Body : await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await body.CopyToAsync(answer, cancellationToken).ConfigureAwait(false);
            AnswerCopied();
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
            if (!Aborted.IsCancellationRequested && _instances.Current is { } instance)
            {
                Pool.RecordFailure(instance);
            }

            Forwarder.Log.ResponseAborted(Pool.Name, ex.Message);
            Abort();
            return Outcome.FromResult(true);
        }
    }

    private Task WriteFailureAsync(Exception exception) =>
        WriteProblemAsync(CallProblem.Failure(exception, _body, Pool.Name, Pool.Policy, Attempts));

    private Task WriteDeadlineExceededAsync() =>
        WriteProblemAsync(CallProblem.DeadlineExceeded(Pool.Name, _retries.Deadline, Attempts));

    private Task WriteProblemAsync(CallProblem problem)
    {
        Pool.Metrics.Error(problem.Code);
        _telemetry.Failed(problem.Code);
        Forwarder.Log.CallFailed(Pool.Name, problem.Status, problem.Code, Attempts, problem.Detail);
        return WriteProblemAsync(problem.Status, problem.Code, problem.Title, problem.Detail);
    }
}

using System.Net;
using Microsoft.AspNetCore.Http.Features;
using Sidecar.Observability;

namespace Sidecar.Forwarding.Grpc;

/// <summary>
/// One request of the gRPC listener from start to end (docs/grpc.md): an instance picked as for any call
/// (<see cref="CallInstances"/>), the request sent over HTTP/2 (h2c prior knowledge to an <c>http</c>
/// instance, ALPN to an <c>https</c> one) with its body streamed as it arrives, the answer streamed back as
/// it arrives (full duplex: it may start before the body ends) and its trailers passed on, all under one
/// deadline (<c>Timeout</c>, lowered by <c>grpc-timeout</c>, which the instance gets reduced to what is
/// left). Retries only as <see cref="GrpcRetryDecider"/> allows. The agent's own errors are gRPC statuses
/// (<see cref="GrpcAnswers"/>). No per-try time-out: a stream's answer may rightly take long to begin.
/// </summary>
internal sealed class GrpcCall(GrpcForwarder grpc, HttpContext context, ServicePool pool, string target, TimeSpan deadline, bool isGrpc)
{
    private static readonly UriCreationOptions RawPathAndQuery = new() { DangerousDisablePathAndQueryCanonicalization = true };

    private readonly CallInstances _instances = new();
    private readonly CallTelemetry _telemetry = new();
    private readonly long _started = pool.Time.GetTimestamp();
    private ForwardedValues _forwarded = null!;
    private int _attempts;
    private int? _answered;

    private Forwarder Forwarder => grpc.Forwarder;

    /// <summary>Runs the call and writes the answer. Never throws for upstream or deadline failures.</summary>
    public async Task RunAsync()
    {
        using var deadlineSource = new CancellationTokenSource(deadline, pool.Time);
        using var call = CancellationTokenSource.CreateLinkedTokenSource(deadlineSource.Token, context.RequestAborted);
        HttpResponseMessage? response = null;
        try
        {
            _forwarded = _telemetry.Start(Forwarder, context, pool.Name, target);
            LiftBodyLimits();
            var policy = pool.Policy;
            using var body = new GrpcRequestBody(context.Request.Body, policy.GrpcRetryOn.Count > 0 ? policy.RetryBufferSize : 0);
            response = await SendAsync(body, deadlineSource, call.Token).ConfigureAwait(false);
            if (response is not null)
            {
                await RelayAsync(response, body, deadlineSource, call.Token).ConfigureAwait(false);
            }
        }
        finally
        {
            response?.Dispose();
            _instances.ReleaseAll();
            _telemetry.Complete(context, pool.Metrics, _attempts, _answered);
        }
    }

    /// <summary>The attempts, until one gives an answer to pass on; null once the agent answered (or the caller left).</summary>
    private async Task<HttpResponseMessage?> SendAsync(GrpcRequestBody body, CancellationTokenSource deadlineSource, CancellationToken cancellationToken)
    {
        if (!_instances.PickFirst(pool))
        {
            await FailAsync(CallProblem.NoInstance(pool.Name)).ConfigureAwait(false);
            return null;
        }

        pool.Budget.Deposit();
        var policy = pool.Policy;
        HttpContent content = body;
        Exception? lastFailure = null;
        while (true)
        {
            var instance = _instances.Next(pool);
            if (instance is null)
            {
                await FailAsync(lastFailure is null ? CallProblem.NoInstance(pool.Name) : Problem(lastFailure)).ConfigureAwait(false);
                return null;
            }

            _attempts++;
            var attempt = _telemetry.StartAttempt(context.Request.Method, instance, target, _attempts);
            var request = new HttpRequestMessage(HttpMethod.Parse(context.Request.Method), new Uri(instance.Prefix + target, in RawPathAndQuery))
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = content,
            };

            if (ProxyHeaders.CopyRequestHeaders(context, request, _forwarded) is { } bad)
            {
                request.Content = null;
                request.Dispose();
                await FailAsync(CallProblem.BadHeader(bad.Name, bad.Character)).ConfigureAwait(false);
                return null;
            }

            // What is left of the deadline, so the instance stops when the agent gives up; TE: trailers is
            // the one TE value HTTP/2 allows, and gRPC servers ask for it.
            request.Headers.Remove(GrpcTimeout.Name);
            request.Headers.TryAddWithoutValidation(GrpcTimeout.Name, GrpcTimeout.Format(deadline - pool.Time.GetElapsedTime(_started)));
            request.Headers.TryAddWithoutValidation("TE", "trailers");
            ProxyHeaders.InjectTrace(request, _forwarded, attempt);

            HttpResponseMessage response;
            try
            {
                response = await grpc.Invoker.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // every failure becomes the caller's answer
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (attempt is not null)
                {
                    AgentTracing.StopAttempt(attempt, null, ex);
                }

                request.Content = null; // the body may go with the next attempt
                request.Dispose();
                if (context.RequestAborted.IsCancellationRequested)
                {
                    return null; // nobody is left to answer
                }

                if (deadlineSource.IsCancellationRequested)
                {
                    await FailAsync(CallProblem.DeadlineExceeded(pool.Name, deadline, _attempts)).ConfigureAwait(false);
                    return null;
                }

                if (body.CallerFailed)
                {
                    await FailAsync(CallerProblem(body)).ConfigureAwait(false);
                    return null;
                }

                pool.RecordFailure(instance);
                lastFailure = ex;
                var retry = GrpcRetryDecider.Decide(new(ForwardingErrors.NeverLeft(ex), body.Started, body.Replayable, null, false, _attempts, policy.Retries, false));
                if (retry is { } reason && Spend(reason))
                {
                    content = body.Started ? body.Replay() : body;
                    continue;
                }

                await FailAsync(Problem(ex)).ConfigureAwait(false);
                return null;
            }

            var code = (int)response.StatusCode;
            if (attempt is not null)
            {
                AgentTracing.StopAttempt(attempt, code, null);
            }

            if (code >= 500)
            {
                pool.RecordFailure(instance);
            }
            else
            {
                ServicePool.RecordSuccess(instance);
            }

            // A trailers-only answer (no message: its status is in the headers) may be sent again when configured.
            if (GrpcStatus.Read(HeaderValue(response, "grpc-status")) is { } status && policy.GrpcRetryOn.Count > 0)
            {
                var retry = GrpcRetryDecider.Decide(new(false, body.Started, body.Replayable, status, policy.GrpcRetryOn.Contains(status), _attempts, policy.Retries, cancellationToken.IsCancellationRequested));
                if (retry is { } reason && Spend(reason) && await BackOffAsync(cancellationToken).ConfigureAwait(false))
                {
                    response.Dispose();
                    request.Content = null;
                    request.Dispose();
                    content = body.Replay();
                    continue;
                }
            }

            return response;
        }
    }

    /// <summary>Passes the answer on as it comes: headers at once, each piece of the body flushed, then the trailers.</summary>
    private async Task RelayAsync(HttpResponseMessage response, GrpcRequestBody body, CancellationTokenSource deadlineSource, CancellationToken cancellationToken)
    {
        var answer = context.Response;
        answer.StatusCode = (int)response.StatusCode;
        ProxyHeaders.CopyResponseHeaders(response, answer.Headers);
        if (response.Headers.Contains("grpc-status"))
        {
            return; // trailers-only: Kestrel sends these headers with END_STREAM, as the instance did
        }

        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            await answer.StartAsync(cancellationToken).ConfigureAwait(false); // a stream's caller sees the headers before the first message
            var upstream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            while (true)
            {
                var read = await upstream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                await answer.Body.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }

            CopyTrailers(response);
        }
        catch (OperationCanceledException) when (deadlineSource.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            var problem = CallProblem.DeadlineExceeded(pool.Name, deadline, _attempts);
            Record(problem);
            GrpcAnswers.End(context, GrpcStatus.DeadlineExceeded, problem.Detail);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException)
        {
            if (context.RequestAborted.IsCancellationRequested)
            {
                return; // the caller left
            }

            if (body.CallerFailed)
            {
                // Full duplex: the caller's body failed while the answer was coming (over MaxBodySize, or broken).
                var problem = CallerProblem(body);
                Record(problem);
                GrpcAnswers.End(context, GrpcStatus.ForProblem(problem.Code), problem.Detail, problem.Code);
                return;
            }

            // The instance's stream broke mid-answer: a half answer must not look whole.
            if (_instances.Current is { } instance)
            {
                pool.RecordFailure(instance);
            }

            Forwarder.Log.ResponseAborted(pool.Name, ex.Message);
            if (isGrpc)
            {
                GrpcAnswers.End(context, GrpcStatus.Unavailable, $"The stream from '{pool.Name}' broke: {ForwardingErrors.Describe(ex)}");
            }
            else
            {
                context.Abort();
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void CopyTrailers(HttpResponseMessage response)
    {
        var answer = context.Response;
        if (!answer.SupportsTrailers())
        {
            return;
        }

        foreach (var header in response.TrailingHeaders.NonValidated)
        {
            if (!ProxyHeaders.IsHopByHop(header.Key))
            {
                try
                {
                    answer.AppendTrailer(header.Key, header.Value.ToString());
                }
                catch (InvalidOperationException)
                {
                    // a value Kestrel refuses (a control character): that trailer is dropped, as for headers
                }
            }
        }
    }

    /// <summary>
    /// The caller's body may be long: the limit of the HTTP API's bodies (<c>MaxRequestBodySize</c>) gives way
    /// to the service's <c>MaxBodySize</c>, and a stream may pause as long as it likes (no minimum data rate).
    /// </summary>
    private void LiftBodyLimits()
    {
        if (Platform.HttpFeatures.MaxRequestBodySize(context) is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = pool.Policy.MaxBodySize == 0 ? null : pool.Policy.MaxBodySize;
        }

        if (context.Features.Get<Microsoft.AspNetCore.Server.Kestrel.Core.Features.IHttpMinRequestBodyDataRateFeature>() is { } rate)
        {
            rate.MinDataRate = null;
        }
    }

    private bool Spend(RetryReason reason)
    {
        if (!pool.Budget.TryWithdraw())
        {
            pool.Metrics.RetryBudgetExhausted();
            Forwarder.Log.BudgetExhausted(pool.Name);
            return false;
        }

        pool.Metrics.Retried(reason);
        return true;
    }

    // The service's RetryBackoff, doubled per attempt, jittered; false when the call ended meanwhile.
    private async Task<bool> BackOffAsync(CancellationToken cancellationToken)
    {
        var delay = pool.Policy.RetryBackoff * Math.Pow(2, _attempts - 1) * (0.5 + (Random.Shared.NextDouble() / 2));
        try
        {
            await Task.Delay(delay, pool.Time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private CallProblem CallerProblem(GrpcRequestBody body) => body.TooLarge
        ? CallProblem.TooLarge(pool.Name, pool.Policy)
        : CallProblem.BadRequestBecause("The request body could not be read from the caller.");

    private CallProblem Problem(Exception exception)
    {
        var problem = CallProblem.Failure(exception, RequestBody.None, pool.Name, pool.Policy, _attempts);
        return IsNotHttp2(exception)
            ? problem with
            {
                Detail = $"'{pool.Name}' did not answer in HTTP/2 ({_attempts} attempt(s)): it may speak HTTP/1.1 only, and gRPC needs HTTP/2 " +
                         $"(h2c prior knowledge to an http instance, ALPN h2 to an https one). {ForwardingErrors.Describe(exception)}",
            }
            : problem;
    }

    // What SocketsHttpHandler reports when an HTTP/1.1 server gets the HTTP/2 preface (it answers 400 or closes)
    // or, over TLS, when ALPN does not settle on h2.
    internal static bool IsNotHttp2(Exception exception) =>
        exception is HttpRequestException { HttpRequestError: HttpRequestError.HttpProtocolError or HttpRequestError.InvalidResponse or HttpRequestError.VersionNegotiationError or HttpRequestError.ResponseEnded };

    private static string? HeaderValue(HttpResponseMessage response, string name) =>
        response.Headers.NonValidated.TryGetValues(name, out var values) ? values.ToString() : null;

    private Task FailAsync(CallProblem problem)
    {
        Record(problem);
        return GrpcAnswers.WriteAsync(context, isGrpc, problem);
    }

    private void Record(CallProblem problem)
    {
        _answered = problem.Status;
        pool.Metrics.Error(problem.Code);
        _telemetry.Failed(problem.Code);
        Forwarder.Log.CallFailed(pool.Name, problem.Status, problem.Code, _attempts, problem.Detail);
    }
}

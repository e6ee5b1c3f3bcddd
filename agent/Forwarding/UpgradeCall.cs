using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http.Features;
using Polly.Timeout;
using Sidecar.Platform;
using Sidecar.Observability;

namespace Sidecar.Forwarding;

/// <summary>
/// One request that asks to switch protocols (<see cref="UpgradeRequest"/>: a WebSocket handshake), from
/// start to end (docs/forwarding.md#websocket-and-other-upgrades). The handshake goes to one instance,
/// picked as for any call; a connect failure (nothing was sent) goes to another, never anything after
/// the handshake was sent. The instance's <c>101</c> and its headers reach the caller through
/// <see cref="IHttpUpgradeFeature"/>, then bytes are copied both ways until either side closes, the
/// connection is idle for <c>UpgradeIdleTimeout</c>, reaches <c>UpgradeMaxConnectionTime</c>, or the
/// drain ends (<see cref="UpgradeDrain"/>). Any other answer to the handshake is passed back as it is.
/// </summary>
internal sealed class UpgradeCall(Forwarder forwarder, HttpContext context, ServicePool pool, string target)
{
    /// <summary>After one side ended its stream, how long the other may still finish (a closing handshake in flight).</summary>
    internal static readonly TimeSpan HalfCloseGrace = TimeSpan.FromSeconds(1);

    private static readonly UriCreationOptions RawPathAndQuery = new() { DangerousDisablePathAndQueryCanonicalization = true };

    private readonly CallInstances _instances = new();
    private readonly CallTelemetry _telemetry = new();
    private ForwardedValues _forwarded = null!;
    private int _attempts;

    /// <summary>True when the request asks for an upgrade and Kestrel can upgrade its connection.</summary>
    public static bool Asks(HttpContext context) =>
        context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } &&
        UpgradeRequest.Asks(context.Request.Method, context.Request.Protocol, context.Request.Headers.Connection, context.Request.Headers.Upgrade);

    /// <summary>Runs the handshake and, when it succeeds, the relay. Never throws for upstream failures.</summary>
    public async Task RunAsync()
    {
        HttpResponseMessage? response = null;
        try
        {
            _forwarded = _telemetry.Start(forwarder, context, pool.Name, target);
            if (forwarder.Drain.Draining)
            {
                pool.Metrics.Upgrade(UpgradeOutcome.Draining);
                await WriteProblemAsync(new CallProblem(StatusCodes.Status503ServiceUnavailable, ForwardingProblems.Draining, "Draining",
                    $"The agent is stopping: it opens no new upgraded connection to '{pool.Name}'. Connect again to another agent or after the restart.")).ConfigureAwait(false);
                return;
            }

            if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
            {
                await WriteProblemAsync(CallProblem.BadRequestBecause("An upgrade request (WebSocket handshake) carries no body.")).ConfigureAwait(false);
                return;
            }

            using var probe = new HttpRequestMessage();
            if (ProxyHeaders.CopyRequestHeaders(context, probe, _forwarded) is { } bad)
            {
                await WriteProblemAsync(CallProblem.BadHeader(bad.Name, bad.Character)).ConfigureAwait(false);
                return;
            }

            response = await HandshakeAsync().ConfigureAwait(false);
            if (response is null)
            {
                return; // the problem was written
            }

            if (response.StatusCode != HttpStatusCode.SwitchingProtocols)
            {
                // 400, 426...: the instance's answer, as it is (its body included).
                pool.Metrics.Upgrade(UpgradeOutcome.Declined);
                await PassBackAsync(response).ConfigureAwait(false);
                return;
            }

            pool.Metrics.Upgrade(UpgradeOutcome.Upgraded);
            var upstream = await response.Content.ReadAsStreamAsync(context.RequestAborted).ConfigureAwait(false);
            var answer = context.Response;
            ProxyHeaders.CopyResponseHeaders(response, answer.Headers);
            answer.Headers.Upgrade = string.Join(", ", response.Headers.Upgrade.Select(p => p.ToString()));
            var caller = await context.Features.GetRequiredFeature<IHttpUpgradeFeature>().UpgradeAsync().ConfigureAwait(false);

            // The handshake's span and the request's count end here: the relay that follows is no request.
            _instances.ReleaseAll();
            _telemetry.Complete(context, pool.Metrics, _attempts);
            await RelayAsync(caller, upstream).ConfigureAwait(false);
        }
        finally
        {
            response?.Dispose();
            if (!context.Response.HasStarted || context.Response.StatusCode != StatusCodes.Status101SwitchingProtocols)
            {
                _instances.ReleaseAll();
                _telemetry.Complete(context, pool.Metrics, _attempts);
            }
        }
    }

    /// <summary>Sends the handshake to an instance; another one after a connect failure. Null once a problem was written.</summary>
    private async Task<HttpResponseMessage?> HandshakeAsync()
    {
        if (!_instances.PickFirst(pool))
        {
            pool.Metrics.Upgrade(UpgradeOutcome.Failed);
            await WriteProblemAsync(CallProblem.NoInstance(pool.Name)).ConfigureAwait(false);
            return null;
        }

        while (true)
        {
            var instance = _instances.Next(pool);
            if (instance is null)
            {
                return await FailAsync(new NoInstanceException()).ConfigureAwait(false);
            }

            _attempts++;
            var attempt = _telemetry.StartAttempt(HttpMethod.Get.Method, instance, target, _attempts);
            using var request = CreateRequest(instance, attempt);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(pool.Policy.TryTimeout);
            try
            {
                var response = await forwarder.Invoker.SendAsync(request, timeout.Token).ConfigureAwait(false);
                if (attempt is not null)
                {
                    AgentTracing.StopAttempt(attempt, (int)response.StatusCode, null);
                }

                if ((int)response.StatusCode >= 500)
                {
                    pool.RecordFailure(instance);
                }
                else
                {
                    ServicePool.RecordSuccess(instance);
                }

                return response;
            }
#pragma warning disable CA1031 // every failure becomes the caller's problem answer
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (attempt is not null)
                {
                    AgentTracing.StopAttempt(attempt, null, ex);
                }

                if (context.RequestAborted.IsCancellationRequested)
                {
                    return null; // nobody is left to answer
                }

                pool.RecordFailure(instance);
                if (ForwardingErrors.NeverLeft(ex) && _attempts <= pool.Policy.Retries)
                {
                    pool.Metrics.Retried(RetryReason.ConnectError);
                    continue; // nothing was sent: another instance may take it
                }

                var failure = ex is OperationCanceledException && timeout.IsCancellationRequested && !ForwardingErrors.NeverLeft(ex)
                    ? new TimeoutRejectedException("The per-try time-out elapsed.", pool.Policy.TryTimeout, ex)
                    : ex;
                return await FailAsync(failure).ConfigureAwait(false);
            }
        }
    }

    private async Task<HttpResponseMessage?> FailAsync(Exception exception)
    {
        pool.Metrics.Upgrade(UpgradeOutcome.Failed);
        await WriteProblemAsync(CallProblem.Failure(exception, RequestBody.None, pool.Name, pool.Policy, _attempts)).ConfigureAwait(false);
        return null;
    }

    private HttpRequestMessage CreateRequest(InstanceState instance, Activity? attempt)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(instance.Prefix + target, in RawPathAndQuery))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        ProxyHeaders.CopyRequestHeaders(context, request, _forwarded);

        // The two hop-by-hop headers this hop asks for again, on its own connection to the instance.
        request.Headers.TryAddWithoutValidation("Connection", "Upgrade");
        request.Headers.TryAddWithoutValidation("Upgrade", (IEnumerable<string?>)context.Request.Headers.Upgrade);
        ProxyHeaders.InjectTrace(request, _forwarded, attempt);
        return request;
    }

    private async Task PassBackAsync(HttpResponseMessage response)
    {
        var answer = context.Response;
        answer.StatusCode = (int)response.StatusCode;
        ProxyHeaders.CopyResponseHeaders(response, answer.Headers);
        try
        {
            var body = await response.Content.ReadAsStreamAsync(context.RequestAborted).ConfigureAwait(false);
            await body.CopyToAsync(answer.Body, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException)
        {
            forwarder.Log.ResponseAborted(pool.Name, ex.Message);
            context.Abort();
        }
    }

    /// <summary>Copies bytes both ways until a side ends (then the other gets <see cref="HalfCloseGrace"/>), or a limit or the drain ends the connection.</summary>
    private async Task RelayAsync(Stream caller, Stream upstream)
    {
        var policy = pool.Policy;
        var started = Stopwatch.GetTimestamp();
        pool.Metrics.UpgradeActive(1);
        using var idle = new CancellationTokenSource(policy.UpgradeIdleTimeout);
        using var lifetime = policy.UpgradeMaxConnectionTime > TimeSpan.Zero ? new CancellationTokenSource(policy.UpgradeMaxConnectionTime) : new CancellationTokenSource();
        using var relay = CancellationTokenSource.CreateLinkedTokenSource(idle.Token, lifetime.Token, forwarder.Drain.Ending, context.RequestAborted);
        var reason = "closed";
        try
        {
            var toInstance = PumpAsync(caller, upstream, toInstance: true, idle, relay.Token);
            var toCaller = PumpAsync(upstream, caller, toInstance: false, idle, relay.Token);
            var first = await Task.WhenAny(toInstance, toCaller).ConfigureAwait(false);
            reason = first == toInstance ? "the caller closed" : "the instance closed";
            relay.CancelAfter(HalfCloseGrace);
            await Task.WhenAll(toInstance, toCaller).ConfigureAwait(false);
        }
        finally
        {
            if (idle.IsCancellationRequested)
            {
                reason = $"idle for {Configuration.DurationParser.Format(policy.UpgradeIdleTimeout)} (UpgradeIdleTimeout)";
            }
            else if (lifetime.IsCancellationRequested)
            {
                reason = $"open for {Configuration.DurationParser.Format(policy.UpgradeMaxConnectionTime)} (UpgradeMaxConnectionTime)";
            }
            else if (forwarder.Drain.Ending.IsCancellationRequested)
            {
                reason = "the drain is over";
            }

            pool.Metrics.UpgradeActive(-1);
            await upstream.DisposeAsync().ConfigureAwait(false);
            forwarder.Log.UpgradeClosed(pool.Name, Stopwatch.GetElapsedTime(started), reason);
        }
    }

    // Ends quietly when its source ends, fails, or the relay is cancelled: either way the connection is over.
    private async Task PumpAsync(Stream from, Stream to, bool toInstance, CancellationTokenSource idle, CancellationToken cancellationToken)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                idle.CancelAfter(pool.Policy.UpgradeIdleTimeout);
                await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                await to.FlushAsync(cancellationToken).ConfigureAwait(false);
                pool.Metrics.UpgradeBytes(toInstance, read);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or HttpRequestException)
        {
            // The other side or a limit closed the connection.
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private Task WriteProblemAsync(CallProblem problem)
    {
        pool.Metrics.Error(problem.Code);
        _telemetry.Failed(problem.Code);
        forwarder.Log.CallFailed(pool.Name, problem.Status, problem.Code, _attempts, problem.Detail);
        return Problems.WriteAsync(context, problem.Status, problem.Code, problem.Title, problem.Detail);
    }
}

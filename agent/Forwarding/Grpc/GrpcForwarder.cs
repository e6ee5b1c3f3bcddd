using Microsoft.AspNetCore.Http.Features;
using Sidecar.Observability;
using Sidecar.Platform;

namespace Sidecar.Forwarding.Grpc;

/// <summary>
/// The gRPC listener's requests (<c>SIDECAR_GRPC_PORT</c>, docs/grpc.md): every HTTP/2 request there is
/// forwarded over HTTP/2 to an instance of the service named by <c>/v1/invoke/{service}/</c> (the prefix is
/// cut) or else by <c>:authority</c>, with the pools, ejection, deadlines, metrics and tracing of the HTTP/1.1
/// forwarder (<see cref="Forwarder"/>); one <see cref="GrpcCall"/> per request.
/// Written on <see cref="HttpMessageInvoker"/> rather than YARP's <c>IHttpForwarder</c>: the call must share
/// the forwarder's own pieces (<see cref="CallInstances"/>, <see cref="CallTelemetry"/>, the pools' ejection
/// and budget) and answer the agent's errors as gRPC statuses, which a second proxy engine with its own
/// destinations, health and error model would duplicate or fight; what it would add here is a streaming
/// copy and trailers, a few dozen lines.
/// </summary>
internal sealed class GrpcForwarder : IDisposable
{
    public GrpcForwarder(Forwarder forwarder, ForwardingOptions options)
    {
        Forwarder = forwarder;
        var handler = AgentHttpHandler.Create(options.ConnectTimeout, options.IdleConnectionTimeout);
        handler.ActivityHeadersPropagator = null; // the call passes traceparent on itself, as the forwarder does
        handler.RequestHeaderEncodingSelector = static (_, _) => System.Text.Encoding.Latin1;

        // Streams can be long: past 100 at once on one connection (the usual SETTINGS_MAX_CONCURRENT_STREAMS),
        // a new call would wait for one to end instead of opening another connection.
        handler.EnableMultipleHttp2Connections = true;
        Invoker = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    public Forwarder Forwarder { get; }

    public HttpMessageInvoker Invoker { get; }

    /// <summary>Forwards one request of the gRPC listener, or answers why not (a gRPC status to a gRPC caller).</summary>
    public Task ForwardAsync(HttpContext context)
    {
        var isGrpc = GrpcStatus.IsGrpc(context.Request.ContentType);
        var raw = HttpFeatures.RawTarget(context);
        string name;
        string target;
        if (!ForwardingExtensions.TrySplitInvoke(raw, out name, out target))
        {
            target = raw;
            var authority = context.Request.Host.Value ?? "";
            ForwardProxyMiddleware.SplitHostPort(authority, 80, out var host, out _);
            if (host.Length == 0 || host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || ForwardProxyMiddleware.IsIpLiteral(host))
            {
                return RefuseAsync(context, isGrpc, Forwarder.Pools.Metrics.Unknown, new CallProblem(StatusCodes.Status404NotFound, ForwardingProblems.UnknownService, "Unknown service",
                    $"No service named: '{Truncate(authority)}' is an address. Name the service as the :authority (grpc.default_authority, grpc.WithAuthority) or call /v1/invoke/{{service}}/..."));
            }

            name = host.ToString();
        }

        var pool = ForwardingOptions.IsServiceName(name) ? Forwarder.Pools.Find(name) : null;
        if (pool is null)
        {
            return RefuseAsync(context, isGrpc, Forwarder.Pools.Metrics.Unknown, new CallProblem(StatusCodes.Status404NotFound, ForwardingProblems.UnknownService, "Unknown service",
                $"'{Truncate(name)}' is not a known service; the agent forwards only to services from ROUTES or the registry."));
        }

        var via = context.Request.Headers.Via;
        if (via.Count > 0 && Forwarder.HasPassedHere(via))
        {
            return RefuseAsync(context, isGrpc, pool.Metrics, new CallProblem(StatusCodes.Status508LoopDetected, ForwardingProblems.LoopDetected, "Loop detected",
                $"The request to '{pool.Name}' has already passed through this agent (its Via header names it): forwarding it again would loop."));
        }

        if (HttpMethods.IsTrace(context.Request.Method) || HttpMethods.IsConnect(context.Request.Method))
        {
            return RefuseAsync(context, isGrpc, pool.Metrics, new CallProblem(StatusCodes.Status405MethodNotAllowed, ForwardingProblems.MethodNotAllowed, "Method not allowed",
                $"The agent does not forward {context.Request.Method}."));
        }

        if (TargetPath.Check(target) is { } reason)
        {
            return RefuseAsync(context, isGrpc, pool.Metrics, CallProblem.BadRequestBecause($"Refused to forward to '{pool.Name}': {reason}.") with { Code = ForwardingProblems.BadPath, Title = "Bad path" });
        }

        var deadline = pool.Policy.Timeout;
        var timeout = context.Request.Headers[GrpcTimeout.Name];
        if (timeout.Count > 0)
        {
            // A malformed value is refused, as gRPC servers do (grpc-go answers INTERNAL): ignoring it would
            // run the call under a deadline the caller did not ask for.
            if (timeout.Count > 1 || !GrpcTimeout.TryParse(timeout[0], out var requested))
            {
                return RefuseAsync(context, isGrpc, pool.Metrics, CallProblem.BadRequestBecause(
                    $"grpc-timeout '{Truncate(timeout.ToString())}' is not up to 8 digits and a unit (H, M, S, m, u, n)."));
            }

            deadline = requested < deadline ? requested : deadline; // it only ever lowers the configured deadline
        }

        if (!RequestTimeoutHeader.TryRead(context.Request, out var header))
        {
            return RefuseAsync(context, isGrpc, pool.Metrics, CallProblem.BadRequestBecause(
                $"{RequestTimeoutHeader.Name} must be a positive duration in seconds (2.5) or with a unit (500ms, 5s)."));
        }

        if (header is { } lower && lower < deadline)
        {
            deadline = lower;
        }

        var call = new GrpcCall(this, context, pool, target, deadline, isGrpc);
        return pool.Admission is { } admission ? AdmitAsync(admission, context, pool, target, isGrpc, call) : call.RunAsync();
    }

    /// <summary>
    /// The service's rate limit, bulkhead and circuit breaker (docs/resilience.md), in that order, as for an
    /// HTTP/1.1 call (<c>Forwarder.AdmitAsync</c>); a refusal is a gRPC status and nothing is sent. A stream
    /// holds its bulkhead slot until it ends. (The response cache is for GET and HEAD: never a gRPC call.)
    /// </summary>
    private async Task AdmitAsync(ServiceAdmission admission, HttpContext context, ServicePool pool, string target, bool isGrpc, GrpcCall call)
    {
        if (admission.Rate is { } rate && !rate.TryTake(out _))
        {
            await RejectAsync(context, pool, target, isGrpc, new CallProblem(StatusCodes.Status429TooManyRequests, ForwardingProblems.RateLimited, "Rate limited",
                $"Calls to '{pool.Name}' are limited to {admission.Policy.RateLimit} per second by this agent (RateLimit, burst {admission.Policy.RateLimitBurst}).")).ConfigureAwait(false);
            return;
        }

        System.Threading.RateLimiting.RateLimitLease? lease = null;
        var trial = false;
        try
        {
            if (admission.Bulkhead is { } bulkhead)
            {
                lease = bulkhead.AttemptAcquire();
                if (!lease.IsAcquired && admission.Policy.MaxQueuedRequests > 0)
                {
                    lease.Dispose();
                    try
                    {
                        lease = await bulkhead.AcquireAsync(1, context.RequestAborted).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        lease = null;
                        pool.Metrics.Count(MethodClass.Of(context.Request.Method), CallTelemetry.ClientClosedRequest);
                        return;
                    }
                }

                if (!lease.IsAcquired)
                {
                    await RejectAsync(context, pool, target, isGrpc, new CallProblem(StatusCodes.Status503ServiceUnavailable, ForwardingProblems.ConcurrencyLimit, "Concurrency limit",
                        $"'{pool.Name}' already has {admission.Policy.MaxConcurrentRequests} calls in flight from this agent (MaxConcurrentRequests).")).ConfigureAwait(false);
                    return;
                }
            }

            if (admission.Breaker is { } breaker && !breaker.TryAdmit(out _, out trial))
            {
                await RejectAsync(context, pool, target, isGrpc, new CallProblem(StatusCodes.Status503ServiceUnavailable, ForwardingProblems.CircuitOpen, "Circuit open",
                    $"The circuit breaker of '{pool.Name}' is open: too many of its recent calls failed. Calls resume after the break.")).ConfigureAwait(false);
                return;
            }

            await call.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            if (trial)
            {
                admission.Breaker!.EndTrial();
            }

            lease?.Dispose();
        }
    }

    private Task RejectAsync(HttpContext context, ServicePool pool, string target, bool isGrpc, CallProblem problem)
    {
        Forwarder.Log.Rejected(pool.Name, problem.Status, problem.Code);
        Forwarder.Tracing.Rejected(context, pool.Name, target, problem.Status, problem.Code);
        return RefuseAsync(context, isGrpc, pool.Metrics, problem);
    }

    public void Dispose() => Invoker.Dispose();

    private static Task RefuseAsync(HttpContext context, bool isGrpc, ServiceMetrics metrics, CallProblem problem)
    {
        metrics.Count(MethodClass.Of(context.Request.Method), problem.Status);
        metrics.Error(problem.Code);
        return GrpcAnswers.WriteAsync(context, isGrpc, problem);
    }

    private static string Truncate(string value) => LogText.Printable(value.Length <= 64 ? value : value[..64] + "...");
}

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
        var raw = context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget;
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

        return new GrpcCall(this, context, pool, target, deadline, isGrpc).RunAsync();
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

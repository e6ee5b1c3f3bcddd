using Sidecar.Observability;
using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// Forwards a request to an instance of a known service (docs/forwarding.md): checks the service,
/// the path and the caller's deadline, then runs a <see cref="ForwardCall"/>. One
/// <see cref="HttpMessageInvoker"/> over one <see cref="SocketsHttpHandler"/> serves every upstream:
/// pooled keep-alive connections, no proxy, no cookies, no decompression, no redirects.
/// </summary>
internal sealed partial class Forwarder : IDisposable
{
    /// <summary>The methods the forwarder passes on (the <c>Allow</c> of its 405s): all but CONNECT and TRACE.</summary>
    public const string ForwardedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

    public Forwarder(ServicePools pools, ForwardingOptions options, ForwardingLog log, AgentTracing? tracing = null, UpgradeDrain? drain = null)
    {
        Drain = drain ?? UpgradeDrain.None;
        Pools = pools;
        Log = log;
        // 64 random bits from the OS (Guid.NewGuid reads them without OpenSSL; RandomNumberGenerator would
        // load libcrypto, about 4 MB of RSS, into every agent: docs/performance.md#what-was-tuned).
        Pseudonym = "sidecar-" + Guid.NewGuid().ToString("N")[..16];
        Via = "1.1 " + Pseudonym;
        Tracing = tracing ?? AgentTracing.Off;
        var handler = AgentHttpHandler.Create(options.ConnectTimeout, options.IdleConnectionTimeout);

        // The forwarder passes traceparent on itself; the handler must not replace it with its own.
        handler.ActivityHeadersPropagator = null;

        // Header values are the bytes Kestrel read, one character each (Latin-1, see AgentListeners):
        // written back as the same bytes. Without this a non-ASCII value failed to send, was retried and
        // counted against healthy instances. Answers are read as Latin-1 already (the handler's default).
        handler.RequestHeaderEncodingSelector = static (_, _) => System.Text.Encoding.Latin1;
        // Plain http/1.1 calls take the lean client (docs/performance.md#the-lean-http11-upstream-client); the rest, and all with LeanHttp1=false, SocketsHttpHandler.
        Lean = options.LeanHttp1 ? new Http1.LeanHttp1Handler(handler, options.ConnectTimeout, options.IdleConnectionTimeout) : null;
        Invoker = new HttpMessageInvoker(Lean ?? (HttpMessageHandler)handler, disposeHandler: true);
        log.Ready(options.Routes.Count, string.Join(", ", options.Routes.Keys));
    }

    public HttpMessageInvoker Invoker { get; }

    /// <summary>The lean client, the outer handler of <see cref="Invoker"/> (null with <c>Forwarding:LeanHttp1=false</c>): a call aimed at it is sent to it directly.</summary>
    public Http1.LeanHttp1Handler? Lean { get; }

    /// <summary>Plain http/1.1 calls go through the lean client (<c>Forwarding:LeanHttp1</c>): their requests may be aimed without a URI.</summary>
    public bool LeanHttp1 => Lean is not null;

    /// <summary>
    /// This agent's name in <c>Via</c> (RFC 9110 section 7.6.3: a pseudonym rather than a host name, which
    /// would tell upstreams about the caller's side): random per agent, so another agent, or this one
    /// after a restart, never takes it for its own.
    /// </summary>
    private string Pseudonym { get; }

    /// <summary><c>1.1 {pseudonym}</c>, the entry this agent adds to <c>Via</c> on every forwarded request (made once).</summary>
    public string Via { get; }

    public ServicePools Pools { get; }

    /// <summary>When upgraded connections stop being opened, and when the open ones close (SIGTERM).</summary>
    public UpgradeDrain Drain { get; }

    public ForwardingLog Log { get; }

    /// <summary>Spans for forwarded calls; off (no span, no cost) unless an OTLP endpoint is set.</summary>
    public AgentTracing Tracing { get; }

    /// <summary>Forwards to <paramref name="service"/> with <paramref name="target"/> (origin-form path and query, as received).</summary>
    public Task ForwardAsync(HttpContext context, string service, string target)
    {
        var pool = ForwardingOptions.IsServiceName(service) ? Pools.Find(service) : null;
        if (pool is null)
        {
            // Counted as "unknown": the name came from the caller and must not become a label value.
            return Refuse(context, Pools.Metrics.Unknown, StatusCodes.Status404NotFound, ForwardingProblems.UnknownService, "Unknown service",
                $"'{Truncate(service)}' is not a known service; the agent forwards only to services from ROUTES or the registry.");
        }

        if (Check(pool, context.Request.Method, target, new CallerFields(context.Request.Headers), out var requested) is { } refused)
        {
            return Refuse(context, pool.Metrics, refused.Status, refused.Code, refused.Title, refused.Detail, refused.Allow);
        }

        // A WebSocket (or any upgrade) handshake: a connection of its own, not a call with a deadline.
        if (UpgradeCall.Asks(context))
        {
            return new UpgradeCall(this, context, pool, target).RunAsync();
        }

        // The header only ever lowers the configured deadline.
        var deadline = requested is { } value && value < pool.Policy.Timeout ? value : pool.Policy.Timeout;
        return pool.Admission is null && pool.Cache is null
            ? new KestrelForwardCall(this, context, pool, target, deadline).RunAsync().AsTask()
            : GuardedAsync(context, pool, target, deadline);
    }

    public void Dispose() => Invoker.Dispose();

    /// <summary>
    /// The checks of a call to a known service before anything else is done for it, on the caller's method,
    /// target and fields alone: the refusal, or null and the deadline the caller asked for (<c>X-Request-Timeout</c>), if any.
    /// </summary>
    internal CallRefusal? Check(ServicePool pool, string method, string target, CallerFields fields, out TimeSpan? requested)
    {
        requested = null;

        // A request that already passed through this agent came back by a route, an instance or a Host
        // name that resolves to the agent itself (names are not resolved: the Via entry is the proof).
        // Only a request that has a Via header at all is searched.
        var via = fields.Via;
        if (via.Count > 0 && HasPassedHere(via))
        {
            return new(StatusCodes.Status508LoopDetected, ForwardingProblems.LoopDetected, "Loop detected",
                $"The request to '{pool.Name}' has already passed through this agent (its Via header names it): forwarding it again would loop. " +
                "A route, an instance or a host name of the service points back at the agent.");
        }

        // TRACE echoes the request, cookies and Authorization included, to whatever page sent it (cross-site
        // tracing): refused, as nginx does.
        if (HttpMethods.IsTrace(method))
        {
            return new(StatusCodes.Status405MethodNotAllowed, ForwardingProblems.MethodNotAllowed, "Method not allowed",
                "The agent does not forward TRACE: it would echo the caller's cookies and credentials.", ForwardedMethods);
        }

        if (TargetPath.Check(target) is { } reason)
        {
            return new(StatusCodes.Status400BadRequest, ForwardingProblems.BadPath, "Bad path", $"Refused to forward to '{pool.Name}': {reason}.");
        }

        if (!RequestTimeoutHeader.TryRead(fields, out requested))
        {
            return new(StatusCodes.Status400BadRequest, ForwardingProblems.BadRequest, "Bad request",
                $"{RequestTimeoutHeader.Name} must be a positive duration in seconds (2.5) or with a unit (500ms, 5s).");
        }

        return null;
    }

    // "1.1 sidecar-x, 1.0 fred" (several headers are one list): an entry whose received-by is our pseudonym.
    internal bool HasPassedHere(Microsoft.Extensions.Primitives.StringValues via)
    {
        for (var i = 0; i < via.Count; i++)
        {
            if (via[i] is { } value && value.Contains(Pseudonym, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    internal static Task Refuse(HttpContext context, ServiceMetrics metrics, int status, string code, string title, string detail, string? allow = null, string? retryAfter = null)
    {
        metrics.Count(MethodClass.Of(context.Request.Method), status);
        metrics.Error(code);
        return Problems.WriteAsync(context, status, code, title, detail, allow, retryAfter);
    }

    // Names come from hostile input: keep problem details short.
    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "...";
}

/// <summary>A call the forwarder refuses before it starts: the problem's status, code, title and detail, and the <c>Allow</c> of a 405.</summary>
internal sealed record CallRefusal(int Status, string Code, string Title, string Detail, string? Allow = null);

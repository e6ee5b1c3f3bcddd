namespace Sidecar.Platform;

/// <summary>
/// What the log lines written while a request runs carry besides their own text: the W3C trace and span
/// ids (<c>trace_id</c>, <c>span_id</c>, so a log collector joins them to the trace) and, for a forwarded
/// call, the destination service and the attempts made (on the request's own line). Set by
/// <see cref="RequestLoggingMiddleware"/> for the requests it logs; the forwarder fills in what it learns.
/// </summary>
internal sealed class RequestLogScope
{
    private static readonly AsyncLocal<RequestLogScope?> Scope = new();

    /// <summary>The scope of the request this code runs for; null outside a logged request.</summary>
    public static RequestLogScope? Current => Scope.Value;

    // The traceparent the ids are cut from when a line asks for them: most requests write no line (docs/performance.md#what-was-tuned).
    private string? _traceParent;
    private NewTrace? _newTrace; // a trace the agent started: its traceparent made a string only for a line
    private string? _traceId;
    private string? _spanId;

    /// <summary>32 lower-case hex digits; null when the request carried no trace and started none.</summary>
    public string? TraceId => _traceId ??= TraceParentText?.Substring(3, 32);

    /// <summary>16 lower-case hex digits: the agent's span (tracing on) or the caller's (tracing off).</summary>
    public string? SpanId => _spanId ??= TraceParentText?.Substring(36, 16);

    private string? TraceParentText => _traceParent ??= _newTrace?.ToString();

    /// <summary>The service a forwarded call went to; null for the agent's own routes.</summary>
    public string? Service { get; set; }

    /// <summary>Attempts a forwarded call made (retries included).</summary>
    public int Attempts { get; set; }

    /// <summary>Starts the scope of one request, with the caller's valid <c>traceparent</c> if any.</summary>
    public static RequestLogScope Begin(HttpContext context) => Begin(new CallerFields(context.Request.Headers));

    /// <inheritdoc cref="Begin(HttpContext)"/>
    public static RequestLogScope Begin(CallerFields fields)
    {
        var scope = new RequestLogScope();
        scope.Restart(fields);
        Scope.Value = scope;
        return scope;
    }

    /// <summary>
    /// Makes <paramref name="scope"/> the current one for what runs from here in the calling async method (null: none).
    /// The forwarding core enters one scope per connection and restarts it per request (<see cref="Restart"/>): setting
    /// an async local makes a new execution context, which one value kept for the connection does not.
    /// </summary>
    public static void Enter(RequestLogScope? scope) => Scope.Value = scope;

    /// <summary>The scope of a new request, with the caller's valid <c>traceparent</c> if any: nothing of the one before.</summary>
    public void Restart(CallerFields fields)
    {
        Clear();
        var traceParent = fields.TraceParent;
        if (traceParent.Count == 1 && Platform.TraceParent.IsValid(traceParent[0]))
        {
            SetTraceParent(traceParent[0]!);
        }
    }

    /// <summary>No request's values: between the requests of a connection.</summary>
    public void Clear()
    {
        _traceParent = _traceId = _spanId = null;
        _newTrace = null;
        Service = null;
        Attempts = 0;
    }

    /// <summary>The ids of the <c>traceparent</c> the agent sends on (its own span, a new trace, or the caller's).</summary>
    public void SetTraceParent(string traceParent)
    {
        _traceParent = traceParent;
        _newTrace = null;
        _traceId = _spanId = null;
    }

    /// <summary>The ids of a trace the agent started and sends on (tracing off, no caller trace).</summary>
    public void SetTraceParent(NewTrace trace)
    {
        _traceParent = _traceId = _spanId = null;
        _newTrace = trace;
    }
}

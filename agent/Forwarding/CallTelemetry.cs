using System.Diagnostics;
using Sidecar.Platform;
using Sidecar.Observability;

namespace Sidecar.Forwarding;

/// <summary>
/// What one forwarded call leaves behind for observers (docs/observability.md): its span and one child
/// span per attempt (when tracing is on), the service and trace on its request log line, and, when it
/// ends, the status and latency in the service's metrics. Nothing here decides anything about the call.
/// </summary>
internal sealed class CallTelemetry
{
    /// <summary>nginx's code for a caller that left before the answer: counted, never sent.</summary>
    public const int ClientClosedRequest = 499;

    private long _started = Stopwatch.GetTimestamp();
    private Activity? _activity;
    private RequestLogScope? _logScope;
    private string? _errorCode;

    // The last call's added fields, kept across Restart: the next call on the same connection usually has the same (ForwardedLines).
    private ForwardedLines? _lines;

    /// <summary>Another call starts with this object (a <see cref="ForwardCall"/> kept for a connection's next call): timed from now, nothing of the last one kept.</summary>
    public void Restart()
    {
        _started = Stopwatch.GetTimestamp();
        _activity = null;
        _logScope = null;
        _errorCode = null;
    }

    /// <summary>
    /// Starts the call's span (null when tracing is off: the instance then sees the caller's trace) and
    /// returns the X-Forwarded-* and trace values every attempt sends; names the service and the trace
    /// the instance sees on the request's log line.
    /// </summary>
    public ForwardedValues Start(Forwarder forwarder, HttpContext context, string service, string target)
    {
        _activity = forwarder.Tracing.StartForward(context, service, target);
        var forwarded = ProxyHeaders.ForwardedValues(context, forwarder.Via, _activity, forwarder.Tracing.Propagators, _lines);
        _lines = forwarded.Lines;
        Scope(service, forwarded, RequestLogScope.Current);
        return forwarded;
    }

    /// <summary>
    /// <see cref="Start(Forwarder, HttpContext, string, string)"/> for a call the forwarding core took (tracing off:
    /// no span): the values every attempt sends, from the caller's fields and address; the service and the trace on the
    /// request's log line, on <paramref name="logScope"/> (the connection's, which it entered: no async local read per call).
    /// </summary>
    public ForwardedValues Start(Forwarder forwarder, CallerFields fields, System.Net.IPAddress? remote, string scheme, string? host, string service, RequestLogScope? logScope)
    {
        var forwarded = ProxyHeaders.ForwardedValues(fields, remote, scheme, host, forwarder.Via, null, forwarder.Tracing.Propagators, _lines);
        _lines = forwarded.Lines;
        Scope(service, forwarded, logScope);
        return forwarded;
    }

    /// <summary>The span of one attempt (a child of the call's), or null when tracing is off.</summary>
    public Activity? StartAttempt(string method, InstanceState instance, string target, int attempt)
    {
        if (_activity is null)
        {
            return null;
        }

        if (_activity.IsAllDataRequested)
        {
            AgentTracing.SetInstance(_activity, instance.Instance);
        }

        return AgentTracing.StartAttempt(_activity, method, instance.Instance, instance.Prefix, target, attempt);
    }

    private void Scope(string service, ForwardedValues forwarded, RequestLogScope? scope)
    {
        if (scope is not null)
        {
            _logScope = scope;
            scope.Service = service;
            if (forwarded.NewTrace is { } created)
            {
                scope.SetTraceParent(created); // made a string only for a line
            }
            else if (forwarded.TraceParent is { } traceParent)
            {
                scope.SetTraceParent(traceParent);
            }
        }
    }

    /// <summary>A hedge went to <paramref name="instance"/> as attempt <paramref name="attempt"/>: a <c>sidecar.hedge</c> event on the call's span.</summary>
    public void Hedged(InstanceState instance, int attempt)
    {
        if (_activity is { IsAllDataRequested: true })
        {
            _activity.AddEvent(new ActivityEvent("sidecar.hedge", tags: new ActivityTagsCollection
            {
                ["sidecar.attempt"] = attempt,
                ["sidecar.instance"] = instance.Instance.InstanceId,
            }));
        }
    }

    /// <summary>The hedge answered first: a <c>sidecar.hedge.won</c> event on the call's span.</summary>
    public void HedgeWon()
    {
        if (_activity is { IsAllDataRequested: true })
        {
            _activity.AddEvent(new ActivityEvent("sidecar.hedge.won"));
        }
    }

    /// <summary>The agent answered with its own problem: its code goes on the call's span.</summary>
    public void Failed(string code) => _errorCode = code;

    /// <summary>Counts the call (what the caller got, how long it took) and ends its span.</summary>
    /// <param name="context">The caller's request.</param>
    /// <param name="metrics">The service's cells.</param>
    /// <param name="attempts">The attempts made.</param>
    /// <param name="answered">The HTTP status the call counts as when its answer says otherwise (a gRPC status in a 200, docs/grpc.md).</param>
    public void Complete(HttpContext context, ServiceMetrics metrics, int attempts, int? answered = null)
    {
        var response = context.Response;
        var status = context.RequestAborted.IsCancellationRequested && !response.HasStarted
            ? ClientClosedRequest
            : answered ?? response.StatusCode;
        Complete(context.Request.Method, status, metrics, attempts);
    }

    /// <summary>Counts the call as <paramref name="status"/> (<see cref="ClientClosedRequest"/> for a caller that left before the answer) and ends its span.</summary>
    public void Complete(string method, int status, ServiceMetrics metrics, int attempts)
    {
        metrics.Completed(MethodClass.Of(method), status, Stopwatch.GetTimestamp() - _started);
        if (_logScope is not null)
        {
            _logScope.Attempts = attempts;
        }

        if (_activity is not null)
        {
            AgentTracing.StopForward(_activity, status, attempts, _errorCode);
        }
    }
}

using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Sidecar.Configuration;

namespace Sidecar.Observability;

/// <summary>
/// Spans for forwarded calls. With an OTLP endpoint set, each call gets a span, child of the caller's
/// trace (W3C or B3, <see cref="TracePropagation"/>) or the root of a new one, and each attempt a client
/// span under it with the HTTP semantic conventions' attributes; the instance receives its attempt's span
/// as its parent. Which spans are recorded is <c>OTEL_TRACES_SAMPLER</c>. Spans are batched to the
/// collector by the OpenTelemetry SDK. Without an endpoint there is no tracer provider, no listener, and
/// <see cref="StartForward"/> returns null at the cost of one field read: the forwarder then passes the
/// caller's trace on unchanged (or creates one).
/// </summary>
internal sealed class AgentTracing : IDisposable
{
    /// <summary>The name of the agent's <see cref="ActivitySource"/> (and OpenTelemetry instrumentation scope).</summary>
    public const string SourceName = "Sidecar.Agent";

    public static readonly ActivitySource Source = new(SourceName, Platform.AgentIndexApi.Version);

    /// <summary>No tracing: for code built without the DI container (unit tests).</summary>
    public static readonly AgentTracing Off = new();

    private readonly TracerProvider? _provider;
    private readonly bool _enabled;

    public AgentTracing(ObservabilityOptions options)
    {
        Propagators = options.Propagators;
        if (!options.TracingEnabled)
        {
            return;
        }

        _enabled = true;
        try
        {
            _provider = Sdk.CreateTracerProviderBuilder()
                // The default resource (telemetry.sdk.*, OTEL_RESOURCE_ATTRIBUTES) with our service name on top.
                .SetResourceBuilder(ResourceBuilder.CreateDefault()
                    .AddService(options.ServiceName, serviceVersion: Platform.AgentIndexApi.Version, autoGenerateServiceInstanceId: true))
                .AddSource(SourceName)
                .SetSampler(CreateSampler(options))
                .AddOtlpExporter(otlp =>
                {
                    // Every setting from ObservabilityOptions, checked there: the exporter's own reading of
                    // the environment (which knows no signal-specific variable) is overridden.
                    otlp.Endpoint = options.TracesUrl!;
                    otlp.Protocol = options.Protocol == OtlpWireProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                    otlp.TimeoutMilliseconds = (int)options.Timeout.TotalMilliseconds;
                    otlp.Headers = options.Headers ?? string.Empty;
                })
                .Build();
        }
#pragma warning disable CA1031 // the SDK reads more variables itself (OTEL_EXPORTER_OTLP_CERTIFICATE...) and throws on a bad one: one line, exit 2
        catch (Exception ex)
#pragma warning restore CA1031
        {
            throw new InvalidConfigurationException(
                [$"OTEL_EXPORTER_OTLP_* (tracing): the OpenTelemetry exporter refused its settings: {SettingsReader.RedactUserInfo(ex.Message)}"]);
        }
    }

    private AgentTracing()
    {
    }

    /// <summary>True when this agent exports spans.</summary>
    public bool Enabled => _enabled;

    /// <summary>The trace header formats read and written (<c>OTEL_PROPAGATORS</c>), with tracing on or off.</summary>
    public Propagators Propagators { get; } = Propagators.TraceContext;

    internal static Sampler CreateSampler(ObservabilityOptions options) => options.Sampler switch
    {
        TraceSampler.AlwaysOn => new AlwaysOnSampler(),
        TraceSampler.AlwaysOff => new AlwaysOffSampler(),
        TraceSampler.TraceIdRatio => new TraceIdRatioBasedSampler(options.SamplerRatio),
        TraceSampler.ParentBasedAlwaysOff => new ParentBasedSampler(new AlwaysOffSampler()),
        TraceSampler.ParentBasedTraceIdRatio => new ParentBasedSampler(new TraceIdRatioBasedSampler(options.SamplerRatio)),
        _ => new ParentBasedSampler(new AlwaysOnSampler()),
    };

    /// <summary>
    /// Starts the span of one forwarded call; null when tracing is off. The parent is the caller's
    /// valid <c>traceparent</c>, never ASP.NET Core's own request activity (which is not exported:
    /// a span whose parent never arrives would look orphaned); without one the span starts a new trace.
    /// Call it from an async method: clearing <see cref="Activity.Current"/> must not leak to the caller.
    /// </summary>
    public Activity? StartForward(HttpContext context, string service, string target)
    {
        if (!_enabled || !Source.HasListeners())
        {
            return null;
        }

        var (traceParent, traceState) = TracePropagation.Extract(context.Request.Headers, Propagators);
        ActivityContext parent = default;
        if (traceParent is null || !ActivityContext.TryParse(traceParent, traceState, isRemote: true, out parent))
        {
            Activity.Current = null;
        }

        var method = MethodClass.Labels[MethodClass.Of(context.Request.Method)];
        // The call as the app sees it; each attempt is a client span of its own under it (StartAttempt).
        var activity = Source.StartActivity(method + " " + service, ActivityKind.Internal, parent);
        if (activity is { IsAllDataRequested: true })
        {
            var query = target.IndexOf('?', StringComparison.Ordinal);
            activity.SetTag("http.request.method", method);
            activity.SetTag("peer.service", service);
            activity.SetTag("url.path", query < 0 ? target : target[..query]); // never the query: it may carry secrets
        }

        return activity;
    }

    /// <summary>
    /// The client span of one attempt, under the call's span, with the HTTP client semantic conventions'
    /// attributes (method, server address and port, URL without its query, protocol version, and
    /// <c>http.request.resend_count</c> from the second attempt on); null when the call has no recorded span.
    /// </summary>
    public static Activity? StartAttempt(Activity call, string method, ITracedPeer instance, string prefix, string target, int attempt)
    {
        var activity = Source.StartActivity(method, ActivityKind.Client, call.Context);
        if (activity is { IsAllDataRequested: true })
        {
            var query = target.IndexOf('?', StringComparison.Ordinal);
            activity.SetTag("http.request.method", method);
            activity.SetTag("server.address", instance.Host);
            activity.SetTag("server.port", instance.Port);
            activity.SetTag("url.full", prefix + (query < 0 ? target : target[..query])); // never the query: it may carry secrets
            activity.SetTag("network.protocol.version", "1.1");
            if (attempt > 1)
            {
                activity.SetTag("http.request.resend_count", attempt - 1);
            }
        }

        return activity;
    }

    /// <summary>Ends an attempt's span with the instance's status code, or the failure's class as <c>error.type</c>.</summary>
    public static void StopAttempt(Activity activity, int? status, Exception? failure)
    {
        if (activity.IsAllDataRequested)
        {
            if (status is { } code)
            {
                activity.SetTag("http.response.status_code", code);
                if (code >= 500)
                {
                    activity.SetTag("error.type", code.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    activity.SetStatus(ActivityStatusCode.Error);
                }
            }
            else if (failure is not null)
            {
                activity.SetTag("error.type", failure is Polly.Timeout.TimeoutRejectedException or OperationCanceledException ? "timeout" : failure.GetType().FullName);
                activity.SetStatus(ActivityStatusCode.Error);
            }
        }

        activity.Stop();
    }

    /// <summary>The instance of the current attempt (the last one wins).</summary>
    public static void SetInstance(Activity activity, ITracedPeer instance)
    {
        activity.SetTag("server.address", instance.Host);
        activity.SetTag("server.port", instance.Port);
    }

    /// <summary>Ends the span with the status the caller got; an agent-made answer carries its problem code as <c>error.type</c>.</summary>
    public static void StopForward(Activity activity, int status, int attempts, string? errorCode)
    {
        if (activity.IsAllDataRequested)
        {
            activity.SetTag("http.response.status_code", status);
            if (attempts > 1)
            {
                activity.SetTag("http.request.resend_count", attempts - 1);
            }

            if (errorCode is not null)
            {
                activity.SetTag("error.type", errorCode);
            }

            if (status >= 500 || errorCode is not null)
            {
                activity.SetStatus(ActivityStatusCode.Error);
            }
        }

        activity.Stop();
    }

    /// <summary>
    /// A call refused before it was sent (rate limit, bulkhead, open circuit: docs/resilience.md): a span of
    /// its own with a <c>sidecar.rejected</c> event naming the rule, and the problem code as <c>error.type</c>.
    /// Nothing when tracing is off. Call it from an async method (see <see cref="StartForward"/>).
    /// </summary>
    public void Rejected(HttpContext context, string service, string target, int status, string code)
    {
        if (StartForward(context, service, target) is not { } activity)
        {
            return;
        }

        if (activity.IsAllDataRequested)
        {
            activity.AddEvent(new ActivityEvent("sidecar.rejected", tags: new ActivityTagsCollection { ["sidecar.rule"] = code }));
        }

        StopForward(activity, status, 0, code);
    }

    /// <summary>Flushes what is batched (tests; shutdown does it too).</summary>
    public bool Flush(int timeoutMilliseconds = 5000) => _provider?.ForceFlush(timeoutMilliseconds) ?? true;

    public void Dispose() => _provider?.Dispose();
}

using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Sidecar.Configuration;
using Sidecar.Discovery;
using Sidecar.Forwarding;

namespace Sidecar.Observability;

/// <summary>
/// Spans for forwarded calls (W3C Trace Context). With an OTLP endpoint set, each call gets a
/// client span, child of the caller's <c>traceparent</c> (or the root of a new trace), and the
/// instance receives that span as its parent; spans are batched to the collector by the
/// OpenTelemetry SDK. Without one there is no tracer provider, no listener, and
/// <see cref="StartForward"/> returns null at the cost of one field read: the forwarder then
/// passes <c>traceparent</c> on unchanged (or creates one) as before.
/// </summary>
internal sealed class AgentTracing : IDisposable
{
    /// <summary>The name of the agent's <see cref="ActivitySource"/> (and OpenTelemetry instrumentation scope).</summary>
    public const string SourceName = "Sidecar.Agent";

    public static readonly ActivitySource Source = new(SourceName, Hosting.AgentIndexApi.Version);

    /// <summary>No tracing: for code built without the DI container (unit tests).</summary>
    public static readonly AgentTracing Off = new();

    private readonly TracerProvider? _provider;
    private readonly bool _enabled;

    public AgentTracing(ObservabilityOptions options)
    {
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
                    .AddService(options.ServiceName, serviceVersion: Hosting.AgentIndexApi.Version, autoGenerateServiceInstanceId: true))
                .AddSource(SourceName)
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

        var headers = context.Request.Headers;
        var traceParent = headers.TraceParent;
        ActivityContext parent = default;
        if (traceParent.Count != 1 || !TraceParent.IsValid(traceParent[0]) ||
            !ActivityContext.TryParse(traceParent[0], TraceState(headers.TraceState), isRemote: true, out parent))
        {
            Activity.Current = null;
        }

        var method = MethodClass.Labels[MethodClass.Of(context.Request.Method)];
        var activity = Source.StartActivity(method + " " + service, ActivityKind.Client, parent);
        if (activity is { IsAllDataRequested: true })
        {
            var query = target.IndexOf('?', StringComparison.Ordinal);
            activity.SetTag("http.request.method", method);
            activity.SetTag("peer.service", service);
            activity.SetTag("url.path", query < 0 ? target : target[..query]); // never the query: it may carry secrets
        }

        return activity;
    }

    // Several tracestate headers are one list (W3C Trace Context 3.3.1.1).
    private static string? TraceState(Microsoft.Extensions.Primitives.StringValues values) =>
        values.Count == 0 ? null : values.Count == 1 ? values[0] : string.Join(",", (IEnumerable<string?>)values);

    /// <summary>The instance of the current attempt (the last one wins).</summary>
    public static void SetInstance(Activity activity, ServiceInstance instance)
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

    /// <summary>Flushes what is batched (tests; shutdown does it too).</summary>
    public bool Flush(int timeoutMilliseconds = 5000) => _provider?.ForceFlush(timeoutMilliseconds) ?? true;

    public void Dispose() => _provider?.Dispose();
}

using Sidecar.Configuration;

namespace Sidecar.Observability;

/// <summary>The OTLP wire format for spans (<c>OTEL_EXPORTER_OTLP_PROTOCOL</c>).</summary>
internal enum OtlpWireProtocol
{
    /// <summary><c>http/protobuf</c>: POST to <c>{endpoint}/v1/traces</c> (port 4318 on a collector).</summary>
    HttpProtobuf,

    /// <summary><c>grpc</c>: the trace service on the endpoint itself (port 4317 on a collector).</summary>
    Grpc,
}

/// <summary>Which spans are recorded (<c>OTEL_TRACES_SAMPLER</c>, as the OpenTelemetry SDK variables name them).</summary>
internal enum TraceSampler
{
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio,
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio,
}

/// <summary>
/// Tracing settings, read from the standard OpenTelemetry variables (<c>Observability:Otlp:*</c>).
/// Tracing is on only when an endpoint is set, <c>OTEL_TRACES_EXPORTER</c> is not <c>none</c> and
/// <c>OTEL_SDK_DISABLED</c> is not true; otherwise no exporter exists and forwarded calls start no span.
/// Each <c>OTEL_EXPORTER_OTLP_TRACES_*</c> variable wins over its <c>OTEL_EXPORTER_OTLP_*</c> form, as
/// the OTLP exporter specification says of signal-specific settings; every value is checked at start,
/// so the exporter never throws on one later.
/// </summary>
internal sealed record ObservabilityOptions
{
    /// <summary><c>OTEL_EXPORTER_OTLP_ENDPOINT</c>: the collector's base URL. Default none (no tracing).</summary>
    public Uri? Endpoint { get; init; }

    /// <summary><c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>: the full URL for spans, used as is. Default none.</summary>
    public Uri? TracesEndpoint { get; init; }

    /// <summary>
    /// <c>OTEL_EXPORTER_OTLP_TRACES_PROTOCOL</c>, else <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>: <c>http/protobuf</c>
    /// (the default the OpenTelemetry specification recommends) or <c>grpc</c>.
    /// </summary>
    public OtlpWireProtocol Protocol { get; init; } = OtlpWireProtocol.HttpProtobuf;

    /// <summary>
    /// <c>OTEL_EXPORTER_OTLP_TRACES_HEADERS</c>, else <c>OTEL_EXPORTER_OTLP_HEADERS</c>: <c>k=v,k2=v2</c> sent
    /// with every export (an API key, say), checked and without empty entries. Default none.
    /// </summary>
    public string? Headers { get; init; }

    /// <summary><c>OTEL_EXPORTER_OTLP_TRACES_TIMEOUT</c>, else <c>OTEL_EXPORTER_OTLP_TIMEOUT</c>, in milliseconds: how long one export may take. Default 10 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>OTEL_SERVICE_NAME</c>: the <c>service.name</c> of the agent's spans. Default <c>APP_NAME</c>, else <c>sidecar-agent</c>.</summary>
    public string ServiceName { get; init; } = "sidecar-agent";

    /// <summary><c>OTEL_SDK_DISABLED=true</c> turns tracing off even with an endpoint. Default false.</summary>
    public bool Disabled { get; init; }

    /// <summary><c>OTEL_TRACES_EXPORTER</c>: <c>otlp</c> (the default) or <c>none</c>, which turns tracing off even with an endpoint.</summary>
    public bool ExporterNone { get; init; }

    /// <summary>
    /// <c>OTEL_PROPAGATORS</c>: the trace header formats read from callers and written to instances, a list of
    /// <c>tracecontext</c>, <c>baggage</c>, <c>b3</c>, <c>b3multi</c> or <c>none</c>. Default <c>tracecontext</c>.
    /// Applies with tracing off too (the agent then passes the caller's trace on, translated).
    /// </summary>
    public Propagators Propagators { get; init; } = Propagators.TraceContext;

    /// <summary><c>OTEL_TRACES_SAMPLER</c>: which spans are recorded. Default <c>parentbased_always_on</c> (the specification's).</summary>
    public TraceSampler Sampler { get; init; } = TraceSampler.ParentBasedAlwaysOn;

    /// <summary><c>OTEL_TRACES_SAMPLER_ARG</c>: the ratio of the <c>traceidratio</c> samplers, 0 to 1. Default 1.</summary>
    public double SamplerRatio { get; init; } = 1.0;

    /// <summary>True when spans are exported.</summary>
    public bool TracingEnabled => !Disabled && !ExporterNone && (Endpoint is not null || TracesEndpoint is not null);

    /// <summary>Where spans go: the traces endpoint as is, or the base endpoint (plus <c>v1/traces</c> for http/protobuf, per the OTLP exporter specification).</summary>
    public Uri? TracesUrl => TracesEndpoint ?? (Endpoint is null ? null
        : Protocol == OtlpWireProtocol.Grpc ? Endpoint
        : new Uri(Endpoint.AbsoluteUri.EndsWith('/') ? Endpoint.AbsoluteUri + "v1/traces" : Endpoint.AbsoluteUri + "/v1/traces"));

    internal static ObservabilityOptions Read(SettingsReader r, AppOptions app)
    {
        // Every form is read (and checked) even when its signal-specific form wins: a bad value is a bad value.
        var protocol = ReadProtocol(r, "Observability:Otlp:Protocol");
        var tracesProtocol = ReadProtocol(r, "Observability:Otlp:TracesProtocol");
        var headers = ReadHeaders(r, "Observability:Otlp:Headers");
        var tracesHeaders = ReadHeaders(r, "Observability:Otlp:TracesHeaders");
        var timeout = ReadTimeout(r, "Observability:Otlp:Timeout");
        var tracesTimeout = ReadTimeout(r, "Observability:Otlp:TracesTimeout");

        const string exporterKey = "Observability:TracesExporter";
        var exporterNone = false;
        switch (r.String(exporterKey)?.ToLowerInvariant())
        {
            case null or "otlp":
                break;
            case "none":
                exporterNone = true;
                break;
            case var other:
                r.AddError(exporterKey, $"'{other}' is not supported; use otlp or none");
                break;
        }

        var (sampler, ratio) = ReadSampler(r);
        return new ObservabilityOptions
        {
            Propagators = ReadPropagators(r),
            Sampler = sampler,
            SamplerRatio = ratio,
            Endpoint = r.HttpUrl("Observability:Otlp:Endpoint"),
            TracesEndpoint = r.HttpUrl("Observability:Otlp:TracesEndpoint"),
            Protocol = tracesProtocol ?? protocol ?? OtlpWireProtocol.HttpProtobuf,
            Headers = tracesHeaders ?? headers,
            Timeout = tracesTimeout ?? timeout ?? TimeSpan.FromSeconds(10),
            ServiceName = r.String("Observability:ServiceName") ?? app.Name ?? "sidecar-agent",
            Disabled = r.Bool("Observability:Disabled", false),
            ExporterNone = exporterNone,
        };
    }

    private static Propagators ReadPropagators(SettingsReader r)
    {
        const string key = "Observability:Propagators";
        if (r.String(key) is null)
        {
            return Propagators.TraceContext;
        }

        var result = Propagators.None;
        foreach (var name in r.List(key))
        {
            switch (name.ToLowerInvariant())
            {
                case "tracecontext": result |= Propagators.TraceContext; break;
                case "baggage": result |= Propagators.Baggage; break;
                case "b3": result |= Propagators.B3; break;
                case "b3multi": result |= Propagators.B3Multi; break;
                case "none": break;
                default:
                    r.AddError(key, $"'{name}' is not supported; use a list of tracecontext, baggage, b3, b3multi (or none)");
                    break;
            }
        }

        return result;
    }

    private static (TraceSampler Sampler, double Ratio) ReadSampler(SettingsReader r)
    {
        const string key = "Observability:Sampler";
        const string argKey = "Observability:SamplerArg";
        var sampler = TraceSampler.ParentBasedAlwaysOn;
        switch (r.String(key)?.ToLowerInvariant())
        {
            case null or "parentbased_always_on": break;
            case "always_on": sampler = TraceSampler.AlwaysOn; break;
            case "always_off": sampler = TraceSampler.AlwaysOff; break;
            case "traceidratio": sampler = TraceSampler.TraceIdRatio; break;
            case "parentbased_always_off": sampler = TraceSampler.ParentBasedAlwaysOff; break;
            case "parentbased_traceidratio": sampler = TraceSampler.ParentBasedTraceIdRatio; break;
            case var other:
                r.AddError(key, $"'{other}' is not supported; use always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio");
                break;
        }

        var ratio = 1.0;
        if (r.String(argKey) is { } arg)
        {
            if (!double.TryParse(arg, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out ratio) || ratio is < 0 or > 1 || double.IsNaN(ratio))
            {
                r.AddError(argKey, $"'{arg}' is not a ratio between 0 and 1");
                ratio = 1.0;
            }
        }

        return (sampler, ratio);
    }

    private static OtlpWireProtocol? ReadProtocol(SettingsReader r, string key)
    {
        switch (r.String(key)?.ToLowerInvariant())
        {
            case null:
                return null;
            case "http/protobuf":
                return OtlpWireProtocol.HttpProtobuf;
            case "grpc":
                return OtlpWireProtocol.Grpc;
            case var other:
                r.AddError(key, $"'{other}' is not supported; use http/protobuf or grpc");
                return null;
        }
    }

    private static TimeSpan? ReadTimeout(SettingsReader r, string key) =>
        r.String(key) is null ? null : TimeSpan.FromMilliseconds(r.Int(key, 10_000, 1, 600_000));

    /// <summary>
    /// <c>k=v,k2=v2</c> as the exporter parses it (split on commas, then on the first <c>=</c>): every
    /// entry needs a key that is an HTTP header name and a value without control characters, or the
    /// exporter would throw when the agent starts. Empty entries (a trailing comma) are dropped. An
    /// error names the entry by position, never by its text: header values are often API keys.
    /// </summary>
    private static string? ReadHeaders(SettingsReader r, string key)
    {
        var value = r.String(key);
        if (value is null)
        {
            return null;
        }

        var entries = value.Split(',', StringSplitOptions.TrimEntries);
        var kept = new List<string>(entries.Length);
        for (var i = 0; i < entries.Length; i++)
        {
            var entry = entries[i];
            if (entry.Length == 0)
            {
                continue;
            }

            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? "" : entry[..equals].Trim();
            var problem = equals < 0 ? "has no '='"
                : !SettingsReader.IsHeaderName(name) ? "has a key that is not an HTTP header name"
                : HasControl(entry.AsSpan(equals + 1)) ? "has a control character in its value"
                : null;
            if (problem is not null)
            {
                r.AddError(key, $"entry {i + 1} of {entries.Length} {problem}; write key=value,key2=value2 (values are not shown here: they may be secrets)");
                return null;
            }

            kept.Add(name + "=" + entry[(equals + 1)..].Trim());
        }

        return kept.Count == 0 ? null : string.Join(',', kept);
    }

    private static bool HasControl(ReadOnlySpan<char> value)
    {
        foreach (var c in value)
        {
            if ((c < ' ' && c != '\t') || c == '\u007f')
            {
                return true;
            }
        }

        return false;
    }
}

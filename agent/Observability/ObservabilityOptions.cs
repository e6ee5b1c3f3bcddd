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

/// <summary>
/// Tracing settings, read from the standard OpenTelemetry variables (<c>Observability:Otlp:*</c>).
/// Tracing is on only when an endpoint is set and <c>OTEL_SDK_DISABLED</c> is not true; otherwise
/// no exporter exists and forwarded calls start no span.
/// </summary>
internal sealed record ObservabilityOptions
{
    /// <summary><c>OTEL_EXPORTER_OTLP_ENDPOINT</c>: the collector's base URL. Default none (no tracing).</summary>
    public Uri? Endpoint { get; init; }

    /// <summary><c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>: the full URL for spans, used as is. Default none.</summary>
    public Uri? TracesEndpoint { get; init; }

    /// <summary><c>OTEL_EXPORTER_OTLP_PROTOCOL</c>: <c>http/protobuf</c> (the default the OpenTelemetry specification recommends) or <c>grpc</c>.</summary>
    public OtlpWireProtocol Protocol { get; init; } = OtlpWireProtocol.HttpProtobuf;

    /// <summary><c>OTEL_EXPORTER_OTLP_HEADERS</c>: <c>k=v,k2=v2</c> sent with every export (an API key, say). Default none.</summary>
    public string? Headers { get; init; }

    /// <summary><c>OTEL_EXPORTER_OTLP_TIMEOUT</c>: how long one export may take. Default 10 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>OTEL_SERVICE_NAME</c>: the <c>service.name</c> of the agent's spans. Default <c>APP_NAME</c>, else <c>sidecar-agent</c>.</summary>
    public string ServiceName { get; init; } = "sidecar-agent";

    /// <summary><c>OTEL_SDK_DISABLED=true</c> turns tracing off even with an endpoint. Default false.</summary>
    public bool Disabled { get; init; }

    /// <summary>True when spans are exported.</summary>
    public bool TracingEnabled => !Disabled && (Endpoint is not null || TracesEndpoint is not null);

    /// <summary>Where spans go: the traces endpoint as is, or the base endpoint (plus <c>v1/traces</c> for http/protobuf, per the OTLP exporter specification).</summary>
    public Uri? TracesUrl => TracesEndpoint ?? (Endpoint is null ? null
        : Protocol == OtlpWireProtocol.Grpc ? Endpoint
        : new Uri(Endpoint.AbsoluteUri.EndsWith('/') ? Endpoint.AbsoluteUri + "v1/traces" : Endpoint.AbsoluteUri + "/v1/traces"));

    internal static ObservabilityOptions Read(SettingsReader r, AppOptions app)
    {
        const string protocolKey = "Observability:Otlp:Protocol";
        var protocol = OtlpWireProtocol.HttpProtobuf;
        switch (r.String(protocolKey)?.ToLowerInvariant())
        {
            case null or "http/protobuf":
                break;
            case "grpc":
                protocol = OtlpWireProtocol.Grpc;
                break;
            case var other:
                r.AddError(protocolKey, $"'{other}' is not supported; use http/protobuf or grpc");
                break;
        }

        return new ObservabilityOptions
        {
            Endpoint = r.HttpUrl("Observability:Otlp:Endpoint"),
            TracesEndpoint = r.HttpUrl("Observability:Otlp:TracesEndpoint"),
            Protocol = protocol,
            Headers = r.String("Observability:Otlp:Headers"),
            Timeout = TimeSpan.FromMilliseconds(r.Int("Observability:Otlp:Timeout", 10_000, 1, 600_000)),
            ServiceName = r.String("Observability:ServiceName") ?? app.Name ?? "sidecar-agent",
            Disabled = r.Bool("Observability:Disabled", false),
        };
    }
}

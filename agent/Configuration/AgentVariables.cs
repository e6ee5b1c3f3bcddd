namespace Sidecar.Configuration;

/// <summary>
/// The environment variables the agent understands (docs/configuration.md). This table is the single
/// source for the mapping onto configuration keys, for error messages that name the variable the
/// user set, and for the test that keeps the README, docs/ and the examples from drifting.
/// </summary>
internal static class AgentVariables
{
    public static readonly IReadOnlyList<AgentVariable> All =
    [
        new("SIDECAR_PORT", "Sidecar:Port"),
        new("SIDECAR_BIND_ADDRESS", "Sidecar:BindAddress"),
        new("SIDECAR_PUBLIC_HEALTH_PORT", "Sidecar:PublicHealthPort"),
        new("SIDECAR_METRICS_PORT", "Sidecar:MetricsPort"),
        new("SIDECAR_GRPC_PORT", "Sidecar:GrpcPort"),
        new("SIDECAR_LOG_FORMAT", "Sidecar:LogFormat"),
        new("SIDECAR_LOG_LEVEL", "Sidecar:LogLevel"),
        new("SIDECAR_LOG_PROBES", "Sidecar:LogProbes"),
        new("SIDECAR_DRAIN", "Sidecar:Drain"),
        new("SIDECAR_READINESS", "Sidecar:Readiness"),
        new("SIDECAR_DATA_DIR", "Sidecar:DataDir"),
        new("XDG_STATE_HOME", "Sidecar:StateHome"), // the default SIDECAR_DATA_DIR's base (XDG Base Directory)

        new("APP_NAME", "App:Name", "SPRING_APPLICATION_NAME"),
        new("APP_PORT", "App:Port"),
        new("APP_HEALTH_URL", "App:Health:Url"),
        new("APP_HEALTH_INTERVAL", "App:Health:Interval"),
        new("APP_HEALTH_TIMEOUT", "App:Health:Timeout"),
        new("APP_HEALTH_FAILURE_THRESHOLD", "App:Health:FailureThreshold"),
        new("APP_HOST", "App:Host"),
        new("APP_IP", "App:Ip"),
        new("APP_METADATA", "App:Metadata"),

        new("EUREKA_URLS", "Eureka:Urls", "EUREKA_CLIENT_SERVICEURL_DEFAULTZONE"),
        new("EUREKA_ZONE", "Eureka:Zone"),
        new("EUREKA_PREFER_IP", "Eureka:PreferIp"),
        new("EUREKA_INSTANCE_ID", "Eureka:InstanceId"),
        new("EUREKA_RENEW_INTERVAL", "Eureka:RenewInterval"),
        new("EUREKA_FETCH_INTERVAL", "Eureka:FetchInterval"),

        new("CONFIG_SERVER_URLS", "AppConfig:ServerUrls", "SPRING_CLOUD_CONFIG_URI"),
        new("CONFIG_PROFILE", "AppConfig:Profile", "SPRING_PROFILES_ACTIVE"),
        new("CONFIG_LABEL", "AppConfig:Label", "SPRING_CLOUD_CONFIG_LABEL"),
        new("CONFIG_POLL_INTERVAL", "AppConfig:PollInterval"),
        new("CONFIG_FAIL_FAST", "AppConfig:FailFast"),
        new("CONFIG_FILE", "AppConfig:File"),
        new("CONFIG_SEED_FILE", "AppConfig:SeedFile"),
        new("ENCRYPT_KEY", "AppConfig:EncryptKey"), // Spring's encrypt.key, under the same variable a Spring app reads
        new("ENCRYPT_SALT", "AppConfig:EncryptSalt"),

        new("ROUTES", "Forwarding:Routes"),
        new("SIDECAR_TCP_LISTENERS", "Forwarding:TcpListeners"),

        // The Spring Boot actuator on the public health listener (docs/actuator.md).
        new("SIDECAR_ACTUATOR_EXPOSE", "Actuator:Expose"),
        new("SIDECAR_ACTUATOR_BASE_PATH", "Actuator:BasePath"),
        new("SIDECAR_ACTUATOR_USER", "Actuator:User"),
        new("SIDECAR_ACTUATOR_PASSWORD", "Actuator:Password"),

        // Tracing: the standard OpenTelemetry variables (specification, "SDK environment variables" and "OTLP exporter").
        new("OTEL_EXPORTER_OTLP_ENDPOINT", "Observability:Otlp:Endpoint"),
        new("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "Observability:Otlp:TracesEndpoint"),
        new("OTEL_EXPORTER_OTLP_PROTOCOL", "Observability:Otlp:Protocol"),
        new("OTEL_EXPORTER_OTLP_HEADERS", "Observability:Otlp:Headers"),
        new("OTEL_EXPORTER_OTLP_TIMEOUT", "Observability:Otlp:Timeout"),
        new("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "Observability:Otlp:TracesProtocol"),
        new("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "Observability:Otlp:TracesHeaders"),
        new("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "Observability:Otlp:TracesTimeout"),
        new("OTEL_TRACES_EXPORTER", "Observability:TracesExporter"),
        new("OTEL_SERVICE_NAME", "Observability:ServiceName"),
        new("OTEL_SDK_DISABLED", "Observability:Disabled"),
        new("OTEL_PROPAGATORS", "Observability:Propagators"),
        new("OTEL_TRACES_SAMPLER", "Observability:Sampler"),
        new("OTEL_TRACES_SAMPLER_ARG", "Observability:SamplerArg"),
    ];

    private static readonly Dictionary<string, AgentVariable> ByKey =
        All.ToDictionary(v => v.Key, StringComparer.OrdinalIgnoreCase);

    /// <summary>How to name a setting in an error message: the variable and its key, or the key alone.</summary>
    /// <param name="key">The configuration key.</param>
    /// <param name="setAs">The variable the user actually set (an alias), when known; else the documented name is used.</param>
    public static string Describe(string key, string? setAs = null) =>
        setAs is not null ? $"{setAs} ({key})" : ByKey.TryGetValue(key, out var variable) ? $"{variable.Name} ({key})" : key;

    /// <summary>True when <paramref name="name"/> is a documented variable or one of its aliases.</summary>
    public static bool IsKnown(string name)
    {
        foreach (var variable in All)
        {
            if (string.Equals(variable.Name, name, StringComparison.Ordinal) ||
                Array.IndexOf(variable.Aliases, name) >= 0)
            {
                return true;
            }
        }

        return false;
    }
}

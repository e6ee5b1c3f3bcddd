using System.Net;
using Serilog.Events;

namespace Sidecar.Configuration;

/// <summary>The agent's own settings (<c>Sidecar:*</c>, the <c>SIDECAR_*</c> variables).</summary>
internal sealed record SidecarOptions
{
    /// <summary>Port of the agent's API. Default 8078.</summary>
    public int Port { get; init; } = 8078;

    /// <summary>Address of the agent's API. Default 127.0.0.1: the API reaches other services, so it stays on loopback unless told otherwise.</summary>
    public IPAddress BindAddress { get; init; } = IPAddress.Loopback;

    /// <summary>Optional second listener on all interfaces serving only the health routes. Default none.</summary>
    public int? PublicHealthPort { get; init; }

    /// <summary>
    /// Optional listener on all interfaces serving only <c>GET /metrics</c>, for a Prometheus outside the pod
    /// (<c>SIDECAR_METRICS_PORT</c>). Default none: <c>/metrics</c> is on the API (loopback) only.
    /// </summary>
    public int? MetricsPort { get; init; }

    /// <summary>
    /// Optional listener for gRPC and other HTTP/2 clients (<c>SIDECAR_GRPC_PORT</c>): HTTP/2 cleartext with
    /// prior knowledge (h2c) only, on <see cref="BindAddress"/> like the API (docs/grpc.md). Default none: every
    /// open port is surface, and HTTP/1.1 callers never need it. A port of its own because Kestrel serves
    /// HTTP/1.1 and h2c prior knowledge on one cleartext port only as HTTP/1.1.
    /// </summary>
    public int? GrpcPort { get; init; }

    /// <summary><c>text</c> (default) or <c>json</c> (compact JSON lines).</summary>
    public LogFormat LogFormat { get; init; } = LogFormat.Text;

    /// <summary>Minimum log level. Default Information.</summary>
    public LogEventLevel LogLevel { get; init; } = LogEventLevel.Information;

    /// <summary>
    /// Which requests get their one log line (<c>Sidecar:RequestLog</c>): <c>all</c>, <c>errors</c> (the
    /// agent's own problems, 5xx and callers that left) or <c>none</c>. Default <c>errors</c>: a line per
    /// successful call cost a tenth to a fifth of the agent's CPU per call, for what <c>/metrics</c> answers
    /// better; Envoy and Dapr write none by default either (docs/observability.md#logging).
    /// </summary>
    public RequestLogMode RequestLog { get; init; } = RequestLogMode.Errors;

    /// <summary>
    /// What <c>/v1/health/ready</c> requires (<c>SIDECAR_READINESS</c>): a list of <c>app</c> (the app's health is UP),
    /// <c>registration</c> (Eureka accepted the instance), <c>config</c> (a config is served), or <c>none</c>. Checks
    /// left out are still shown in <c>/v1/health</c>, marked not required. Default: all of them.
    /// </summary>
    public IReadOnlySet<string>? Readiness { get; init; }

    /// <summary>The names <see cref="Readiness"/> takes.</summary>
    internal static readonly string[] ReadinessChecks = ["app", "registration", "registry", "config"];

    /// <summary>Whether probes (the health routes, <c>/ping</c>, <c>/status</c>, <c>/metrics</c>) get a request line too (<c>SIDECAR_LOG_PROBES</c>). Default false.</summary>
    public bool LogProbes { get; init; }

    /// <summary>
    /// On SIGTERM, how long the instance stays OUT_OF_SERVICE, still forwarding, before the lease is cancelled.
    /// Default 65 s: a Eureka server answers from a response cache for up to 30 s and callers fetch every 30 s,
    /// plus 5 s for the fetch itself and clock skew (docs/operations.md#timing).
    /// </summary>
    public TimeSpan Drain { get; init; } = DefaultDrain;

    internal static readonly TimeSpan DefaultDrain = TimeSpan.FromSeconds(65);

    /// <summary>
    /// Where last-known-good config and registry snapshots are kept. Default: a per-user, per-app folder,
    /// <c>$XDG_STATE_HOME/sidecar-agent/{app}</c> when XDG_STATE_HOME is set, else <c>{temp}/sidecar-agent-{uid}/{app}</c>
    /// (never a folder shared by every user of the machine: see <see cref="Configuration.DataFolder"/>).
    /// </summary>
    public string DataDir { get; init; } = "";

    internal static SidecarOptions Read(SettingsReader r, AppOptions app)
    {
        var port = r.ListenPort("Sidecar:Port", 8078)!.Value;
        var bindAddress = r.IPAddress("Sidecar:BindAddress", IPAddress.Loopback)!;
        var publicPort = r.ListenPort("Sidecar:PublicHealthPort");
        if (publicPort == port && port != 0) // 0: each listener gets its own free port
        {
            r.AddError("Sidecar:PublicHealthPort", $"'{publicPort}' is already the API port (SIDECAR_PORT)");
        }

        var metricsPort = r.ListenPort("Sidecar:MetricsPort");
        if (metricsPort is not (null or 0) && (metricsPort == port || metricsPort == publicPort))
        {
            r.AddError("Sidecar:MetricsPort", $"'{metricsPort}' is already the {(metricsPort == port ? "API port (SIDECAR_PORT)" : "public health port (SIDECAR_PUBLIC_HEALTH_PORT)")}");
        }

        var grpcPort = r.ListenPort("Sidecar:GrpcPort");
        if (grpcPort is not (null or 0) && (grpcPort == port || grpcPort == publicPort || grpcPort == metricsPort))
        {
            r.AddError("Sidecar:GrpcPort", $"'{grpcPort}' is already the {(grpcPort == port ? "API port (SIDECAR_PORT)" : grpcPort == publicPort ? "public health port (SIDECAR_PUBLIC_HEALTH_PORT)" : "metrics port (SIDECAR_METRICS_PORT)")}");
        }

        // The agent probes the app at 127.0.0.1:APP_PORT: when that is one of the agent's own sockets it
        // would probe itself and report the app healthy while it is not (and register itself as the app).
        if (app.Port is { } appPort)
        {
            if (appPort == port && ListensOnLoopback(bindAddress))
            {
                r.AddError("App:Port", $"'{appPort}' is the agent's own API port (SIDECAR_PORT): the agent would probe itself");
            }
            else if (appPort == publicPort)
            {
                r.AddError("App:Port", $"'{appPort}' is the agent's public health port (SIDECAR_PUBLIC_HEALTH_PORT): the agent would probe itself");
            }
            else if (appPort == metricsPort)
            {
                r.AddError("App:Port", $"'{appPort}' is the agent's metrics port (SIDECAR_METRICS_PORT): the agent would probe itself");
            }
            else if (appPort == grpcPort && ListensOnLoopback(bindAddress))
            {
                r.AddError("App:Port", $"'{appPort}' is the agent's gRPC port (SIDECAR_GRPC_PORT): the agent would probe itself");
            }
        }

        return new SidecarOptions
        {
            Port = port,
            BindAddress = bindAddress,
            PublicHealthPort = publicPort,
            MetricsPort = metricsPort,
            GrpcPort = grpcPort,
            LogFormat = r.Enum("Sidecar:LogFormat", LogFormat.Text),
            LogLevel = ReadLevel(r),
            RequestLog = r.Enum("Sidecar:RequestLog", RequestLogMode.Errors),
            LogProbes = r.Bool("Sidecar:LogProbes", false),
            Readiness = ReadReadiness(r),
            Drain = r.Duration("Sidecar:Drain", DefaultDrain, TimeSpan.Zero, TimeSpan.FromMinutes(10)),
            DataDir = r.String("Sidecar:DataDir") ?? DefaultDataDir(app.Name, port, r.String("Sidecar:StateHome")),
        };
    }

    private static HashSet<string>? ReadReadiness(SettingsReader r)
    {
        const string key = "Sidecar:Readiness";
        if (r.String(key) is null)
        {
            return null;
        }

        var result = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in r.List(key))
        {
            if (string.Equals(name, "none", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (Array.IndexOf(ReadinessChecks, name.ToLowerInvariant()) < 0)
            {
                r.AddError(key, $"'{name}' is not one of {string.Join(", ", ReadinessChecks)} (or none)");
                continue;
            }

            result.Add(name.ToLowerInvariant());
        }

        return result;
    }

    private static bool ListensOnLoopback(IPAddress bindAddress) =>
        IPAddress.IsLoopback(bindAddress) || bindAddress.Equals(IPAddress.Any) || bindAddress.Equals(IPAddress.IPv6Any);

    /// <summary>Only <see cref="LogFormat"/> and <see cref="LogLevel"/>: what <c>agent registry</c> takes of the agent's settings.</summary>
    internal static SidecarOptions ReadLogging(SettingsReader r) => new()
    {
        LogFormat = r.Enum("Sidecar:LogFormat", LogFormat.Text),
        LogLevel = ReadLevel(r),
    };

    // One folder per app (or per agent port when the app has no name), so two agents on a machine never share
    // snapshots; under a folder of the agent's user, so no other user can make it first (issue 13): the XDG
    // state folder when there is one, else one per user id in the temp folder (already per user on Windows).
    internal static string DefaultDataDir(string? appName, int port, string? stateHome)
    {
        var name = appName is null ? $"port-{port}" : string.Concat(appName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
        if (!string.IsNullOrEmpty(stateHome) && Path.IsPathFullyQualified(stateHome))
        {
            return Path.Combine(stateHome, "sidecar-agent", name);
        }

        var perUser = Platform.UnixFiles.Supported
            ? "sidecar-agent-" + Platform.UnixFiles.EffectiveUserId.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : "sidecar-agent";
        return Path.Combine(Path.GetTempPath(), perUser, name);
    }

    // Serilog's names plus the Microsoft.Extensions.Logging ones users also write.
    private static LogEventLevel ReadLevel(SettingsReader r)
    {
        const string key = "Sidecar:LogLevel";
        var value = r.String(key);
        switch (value?.ToLowerInvariant())
        {
            case null: return LogEventLevel.Information;
            case "verbose" or "trace": return LogEventLevel.Verbose;
            case "debug": return LogEventLevel.Debug;
            case "information" or "info": return LogEventLevel.Information;
            case "warning" or "warn": return LogEventLevel.Warning;
            case "error": return LogEventLevel.Error;
            case "fatal" or "critical": return LogEventLevel.Fatal;
            default:
                r.AddError(key, $"'{value}' is not one of verbose, debug, information, warning, error, fatal");
                return LogEventLevel.Information;
        }
    }
}

/// <summary>Which requests are logged (<see cref="SidecarOptions.RequestLog"/>).</summary>
internal enum RequestLogMode
{
    All,
    Errors,
    None,
}

internal enum LogFormat
{
    Text,
    Json,
}

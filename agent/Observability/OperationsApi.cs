using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sidecar.Platform;
using Sidecar.Configuration;

namespace Sidecar.Observability;

/// <summary>One setting as <c>GET /v1/settings</c> shows it.</summary>
/// <param name="Key">The configuration key (<c>Sidecar:Drain</c>).</param>
/// <param name="Variable">The documented variable for it, when there is one (<c>SIDECAR_DRAIN</c>).</param>
/// <param name="Value">The value in effect, secrets masked; null when unset (the default applies, docs/configuration.md).</param>
/// <param name="Masked">True when part or all of the value is hidden.</param>
internal sealed record SettingEntry(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("variable")] string? Variable,
    [property: JsonPropertyName("value")] string? Value,
    [property: JsonPropertyName("masked")] bool Masked);

internal sealed record SettingsReport(
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("commit")] string Commit,
    [property: JsonPropertyName("logLevel")] string LogLevel,
    [property: JsonPropertyName("settings")] IReadOnlyList<SettingEntry> Settings);

internal sealed record LogLevelReport([property: JsonPropertyName("level")] string Level);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SettingsReport))]
[JsonSerializable(typeof(LogLevelReport))]
internal sealed partial class OperationsJsonContext : JsonSerializerContext;

/// <summary>
/// Day-2 routes, for callers on the same host only (the app, or an operator's <c>kubectl exec</c> / port-forward):
/// a request from another address is refused with 403 even when <c>SIDECAR_BIND_ADDRESS</c> opens the API.
/// <list type="bullet">
/// <item><c>GET /v1/settings</c>: every setting that was given (each documented variable, set or not, and any other
/// <c>Section:Key</c>), with secrets masked: values under secret-looking keys, URL user info, the values of
/// OTLP headers, credentials inside values.</item>
/// <item><c>GET /v1/logging</c> and <c>PUT /v1/logging {"level":"debug"}</c>: the minimum log level, changed at run time
/// (until the agent restarts).</item>
/// </list>
/// </summary>
internal static partial class OperationsApi
{
    private const int MaxBodyBytes = 1024;

    // The configuration sections the agent reads: any key set under them is shown.
    private static readonly string[] Sections = ["Sidecar", "App", "Eureka", "AppConfig", "Forwarding", "Observability", "Supervisor", "Actuator"];

    public static IEndpointRouteBuilder MapOperationsApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/v1/settings", (HttpContext context, IConfiguration configuration, AgentLogLevel level) =>
            !IsLocal(context) ? Refused() : TypedResults.Json(Report(configuration, level), OperationsJsonContext.Default.SettingsReport));

        endpoints.MapGet("/v1/logging", (HttpContext context, AgentLogLevel level) =>
            !IsLocal(context) ? Refused() : TypedResults.Json(new LogLevelReport(AgentLogLevel.Name(level.Current)), OperationsJsonContext.Default.LogLevelReport));

        endpoints.MapPut("/v1/logging", async (HttpContext context, AgentLogLevel level, ILoggerFactory loggers) =>
        {
            if (!IsLocal(context))
            {
                return Refused();
            }

            var (requested, error) = await ReadLevelAsync(context).ConfigureAwait(false);
            if (requested is not { } value)
            {
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid log level",
                    error + "; send {\"level\":\"debug\"} (trace, debug, info, warn, error or fatal)");
            }

            var previous = level.Current;
            level.Switch.MinimumLevel = value;
            if (previous != value)
            {
                // At warning, so the change shows whatever the new level is.
                LogLevelChanged(loggers.CreateLogger("Sidecar.Hosting.Logging"), AgentLogLevel.Name(previous), AgentLogLevel.Name(value));
            }

            return TypedResults.Json(new LogLevelReport(AgentLogLevel.Name(value)), OperationsJsonContext.Default.LogLevelReport);
        });
        return endpoints;
    }

    internal static SettingsReport Report(IConfiguration configuration, AgentLogLevel level)
    {
        var entries = new List<SettingEntry>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var variable in AgentVariables.All)
        {
            seen.Add(variable.Key);
            entries.Add(Entry(variable.Key, variable.Name, configuration[variable.Key]));
        }

        foreach (var section in Sections)
        {
            foreach (var item in configuration.GetSection(section).AsEnumerable())
            {
                if (item.Value is not null && seen.Add(item.Key))
                {
                    entries.Add(Entry(item.Key, null, item.Value));
                }
            }
        }

        entries.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return new SettingsReport(AgentIndexApi.Version, AgentIndexApi.Commit, AgentLogLevel.Name(level.Current), entries);
    }

    /// <summary>A setting's value as shown: OTLP headers keep their names only; everything else as config values are shown (<see cref="ConfigRedaction"/>).</summary>
    internal static SettingEntry Entry(string key, string? variable, string? value)
    {
        if (value is null)
        {
            return new SettingEntry(key, variable, null, false);
        }

        if (key.EndsWith("Headers", StringComparison.OrdinalIgnoreCase))
        {
            // Exporter headers are API keys more often than not, whatever they are called.
            var names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(entry => entry.Split('=', 2)[0].Trim() + "=" + ConfigRedaction.Mask);
            return new SettingEntry(key, variable, string.Join(',', names), true);
        }

        var shown = ConfigRedaction.Shown(key, value, out var masked);
        return new SettingEntry(key, variable, LogText.Printable(shown), masked);
    }

    internal static bool IsLocal(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote);

    private static IResult Refused() => Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "Forbidden",
        "This route answers callers on the same host only (127.0.0.1 or ::1).");

    private static async Task<(Serilog.Events.LogEventLevel? Level, string Error)> ReadLevelAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.ContentLength > MaxBodyBytes)
        {
            return (null, "the body is too large");
        }

        var buffer = new byte[MaxBodyBytes + 1];
        var length = 0;
        int read;
        try
        {
            while (length < buffer.Length && (read = await request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                length += read;
            }
        }
        catch (BadHttpRequestException)
        {
            return (null, "the body could not be read");
        }

        if (length > MaxBodyBytes)
        {
            return (null, "the body is too large");
        }

        try
        {
            using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
            if (document.RootElement.ValueKind != JsonValueKind.Object ||
                !document.RootElement.TryGetProperty("level", out var value) ||
                value.ValueKind != JsonValueKind.String)
            {
                return (null, "the body has no \"level\" string");
            }

            var text = value.GetString();
            return AgentLogLevel.TryRead(text, out var level) ? (level, "") : (null, $"'{LogText.Printable(text ?? "")}' is not a log level");
        }
        catch (JsonException)
        {
            return (null, "the body is not JSON");
        }
        catch (InvalidOperationException)
        {
            return (null, "the body is not valid UTF-8");
        }
    }

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Log level changed from {Previous} to {Level} (PUT /v1/logging); SIDECAR_LOG_LEVEL applies again at the next start")]
    private static partial void LogLevelChanged(ILogger logger, string previous, string level);
}

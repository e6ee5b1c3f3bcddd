using Serilog.Events;

namespace Sidecar.Actuator;

/// <summary>
/// Spring Boot's log levels and the agent's (Serilog's), with no I/O (docs/actuator.md#endpoints). The agent has one
/// level for all its loggers, the one <c>PUT /v1/logging</c> changes: it is Spring's <c>ROOT</c> logger.
/// Spring lists the levels most severe first; OFF is not offered (the agent always writes its errors).
/// </summary>
internal static class LoggerLevels
{
    public const string Root = "ROOT";

    /// <summary>The levels, as <c>GET loggers</c> lists them (Spring's <c>LogLevel</c>, descending).</summary>
    public static readonly IReadOnlyList<string> Names = ["FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"];

    public static string Name(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose => "TRACE",
        LogEventLevel.Debug => "DEBUG",
        LogEventLevel.Information => "INFO",
        LogEventLevel.Warning => "WARN",
        LogEventLevel.Error => "ERROR",
        _ => "FATAL",
    };

    /// <summary>A Spring level name (any case) as the agent's level; false for anything else (OFF included).</summary>
    public static bool TryRead(string? name, out LogEventLevel level)
    {
        switch (name?.Trim().ToUpperInvariant())
        {
            case "TRACE": level = LogEventLevel.Verbose; return true;
            case "DEBUG": level = LogEventLevel.Debug; return true;
            case "INFO": level = LogEventLevel.Information; return true;
            case "WARN": level = LogEventLevel.Warning; return true;
            case "ERROR": level = LogEventLevel.Error; return true;
            case "FATAL": level = LogEventLevel.Fatal; return true;
            default: level = LogEventLevel.Information; return false;
        }
    }

    /// <summary>
    /// What a <c>POST loggers/ROOT</c> with <c>{"configuredLevel": ...}</c> sets: the level named, or the start
    /// level (<c>SIDECAR_LOG_LEVEL</c>) for null, as Spring resets a logger; null with an error otherwise.
    /// </summary>
    public static (LogEventLevel? Level, string? Error) Requested(string? configuredLevel, bool present, LogEventLevel startLevel)
    {
        if (!present)
        {
            return (null, "the body has no \"configuredLevel\"");
        }

        if (configuredLevel is null)
        {
            return (startLevel, null);
        }

        return TryRead(configuredLevel, out var level)
            ? (level, null)
            : (null, $"'{Platform.LogText.Printable(configuredLevel)}' is not one of {string.Join(", ", Names)} (or null to reset)");
    }
}

using Serilog.Core;
using Serilog.Events;

namespace Sidecar.Platform;

/// <summary>
/// The agent's minimum log level, changeable while it runs (<c>PUT /v1/logging</c>, loopback API only):
/// <c>SIDECAR_LOG_LEVEL</c> at start. The Microsoft and System.Net.Http categories stay at warning or above
/// as at start: a debug session of the agent should not bring the framework's per-request chatter.
/// </summary>
internal sealed class AgentLogLevel(LogEventLevel initial)
{
    public LoggingLevelSwitch Switch { get; } = new(initial);

    public LogEventLevel Current => Switch.MinimumLevel;

    /// <summary>Not named TryParse: minimal APIs would take the type for a parameter bound from the route or query. The level names the setting takes (Serilog's and Microsoft.Extensions.Logging's).</summary>
    public static bool TryRead(string? value, out LogEventLevel level)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case "verbose" or "trace": level = LogEventLevel.Verbose; return true;
            case "debug": level = LogEventLevel.Debug; return true;
            case "information" or "info": level = LogEventLevel.Information; return true;
            case "warning" or "warn": level = LogEventLevel.Warning; return true;
            case "error": level = LogEventLevel.Error; return true;
            case "fatal" or "critical": level = LogEventLevel.Fatal; return true;
            default: level = LogEventLevel.Information; return false;
        }
    }

    /// <summary>The lower-case name of a level, as the JSON logs write it.</summary>
    public static string Name(LogEventLevel level) => JsonLinesFormatter.LevelName(level);
}

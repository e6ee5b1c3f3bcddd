using Serilog;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Hosting;

internal static class LoggingExtensions
{
    // The date too: a line read days later (kubectl logs --previous, a file) says when it was written.
    private const string TextTemplate = "{Timestamp:yyyy-MM-ddTHH:mm:ss.fffzzz} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}";

    /// <summary>
    /// Serilog, configured in this one place: readable text by default, compact JSON lines with
    /// <c>SIDECAR_LOG_FORMAT=json</c>. ASP.NET Core's own per-request lines are silenced; the
    /// agent writes one line per request itself (<see cref="RequestLoggingMiddleware"/>).
    /// </summary>
    public static void AddAgentLogging(this WebApplicationBuilder builder, SidecarOptions options)
    {
        builder.Logging.ClearProviders();
        var level = new AgentLogLevel(options.LogLevel);
        builder.Services.AddSingleton(level);
        // A listener on port 0: the start-up line is the one place that names the port bound, so it is
        // written whatever the level (docs/operations.md#listeners-and-security-defaults).
        var portPicked = builder.Services.Any(s => s.ServiceType == typeof(ListenerSockets) || s.ServiceType == typeof(Forwarding.Tcp.TcpListenerSockets));
        builder.Services.AddSerilog(configuration =>
        {
            if (portPicked)
            {
                configuration.MinimumLevel.Override(typeof(StartupLogger).FullName!, LogEventLevel.Information);
            }

            configuration
                .MinimumLevel.ControlledBy(level.Switch)
                .MinimumLevel.Override("Microsoft", LevelAtLeast(options.LogLevel, LogEventLevel.Warning))
                .MinimumLevel.Override("System.Net.Http", LevelAtLeast(options.LogLevel, LogEventLevel.Warning))
                // Off, not just quiet: while this category is enabled at any level, ASP.NET Core starts an
                // Activity (two random ids in hex) and a logging scope for every request, which the agent
                // never uses (it writes traceparent itself) and which cost several percent of its CPU per call.
                .MinimumLevel.Override("Microsoft.AspNetCore.Hosting.Diagnostics", LevelAlias.Off)
                // A start-up failure is reported once, as one line, by AgentCommandLine: not again with a stack trace.
                .MinimumLevel.Override("Microsoft.Extensions.Hosting.Internal.Host", LogEventLevel.Fatal)
                .Enrich.FromLogContext()
                .Enrich.With<TraceEnricher>();

            // Formatted and written off the request path, in batches (see BufferedConsoleSink).
            ITextFormatter formatter = options.LogFormat == LogFormat.Json
                ? new JsonLinesFormatter()
                : new MessageTemplateTextFormatter(TextTemplate, System.Globalization.CultureInfo.InvariantCulture);
            configuration.WriteTo.Sink(new BufferedConsoleSink(formatter));
        },
        // The host's own logger, never the static Log.Logger: several hosts in one process (the tests)
        // would otherwise all log at the level of the last one built, and the first disposed would
        // silence the rest (Serilog.Extensions.Hosting's AddSerilog).
        preserveStaticLogger: true);
    }

    private static LogEventLevel LevelAtLeast(LogEventLevel configured, LogEventLevel floor) =>
        configured > floor ? configured : floor;
}

using System.Globalization;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;
using Serilog.Formatting.Json;

namespace Sidecar.Platform;

/// <summary>
/// JSON lines with the keys log collectors read without custom rules (Fluent Bit, Vector, Loki, Datadog,
/// Elastic's and OpenTelemetry's JSON parsers): <c>time</c> (RFC 3339, UTC), <c>level</c> (<c>trace</c>,
/// <c>debug</c>, <c>info</c>, <c>warn</c>, <c>error</c>, <c>fatal</c>), <c>message</c> (rendered as the text
/// format shows it: strings without quotes, so collectors index <c>App health UP -> DOWN</c>), <c>logger</c>,
/// <c>error</c> when there is an exception, <c>trace_id</c> and <c>span_id</c> during a request with a
/// trace, then the event's own properties (docs/observability.md#logging).
/// </summary>
internal sealed class JsonLinesFormatter : ITextFormatter
{
    private static readonly MessageTemplateTextFormatter Message = new("{Message:lj}", CultureInfo.InvariantCulture);
    private static readonly JsonValueFormatter Values = new(typeTagName: null);

    public void Format(LogEvent logEvent, TextWriter output)
    {
        output.Write("{\"time\":\"");
        output.Write(logEvent.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        output.Write("\",\"level\":\"");
        output.Write(LevelName(logEvent.Level));
        output.Write("\",\"message\":");
        using (var message = new StringWriter(CultureInfo.InvariantCulture))
        {
            Message.Format(logEvent, message);
            JsonValueFormatter.WriteQuotedJsonString(message.ToString(), output);
        }

        if (logEvent.Properties.TryGetValue("SourceContext", out var source) && source is ScalarValue { Value: string logger })
        {
            output.Write(",\"logger\":");
            JsonValueFormatter.WriteQuotedJsonString(logger, output);
        }

        if (logEvent.Exception is { } exception)
        {
            output.Write(",\"error\":");
            JsonValueFormatter.WriteQuotedJsonString(exception.ToString(), output);
        }

        foreach (var (name, value) in logEvent.Properties)
        {
            if (name is "SourceContext" or "time" or "level" or "message" or "logger" or "error")
            {
                continue; // written above, or would clash with a key written above
            }

            output.Write(',');
            JsonValueFormatter.WriteQuotedJsonString(name, output);
            output.Write(':');
            Values.Format(value, output);
        }

        output.Write('}');
        output.Write('\n');
    }

    /// <summary>The level names most collectors map by themselves (logrus, zap, pino and OpenTelemetry's severity text agree on these).</summary>
    internal static string LevelName(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose => "trace",
        LogEventLevel.Debug => "debug",
        LogEventLevel.Information => "info",
        LogEventLevel.Warning => "warn",
        LogEventLevel.Error => "error",
        _ => "fatal",
    };
}

using Serilog.Core;
using Serilog.Events;
using Sidecar.Platform;

namespace Sidecar.Hosting;

/// <summary>Adds <c>trace_id</c> and <c>span_id</c> to every line written during a logged request that has a trace (<see cref="RequestLogScope"/>).</summary>
internal sealed class TraceEnricher : ILogEventEnricher
{
    public const string TraceIdName = "trace_id";
    public const string SpanIdName = "span_id";

    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        if (RequestLogScope.Current is { TraceId: { } traceId } scope)
        {
            logEvent.AddPropertyIfAbsent(new LogEventProperty(TraceIdName, new ScalarValue(traceId)));
            logEvent.AddPropertyIfAbsent(new LogEventProperty(SpanIdName, new ScalarValue(scope.SpanId)));
        }
    }
}

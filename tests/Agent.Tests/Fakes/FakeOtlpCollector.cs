using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Sidecar.Observability;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Fakes;

/// <summary>One OTLP/HTTP export as the collector received it.</summary>
public sealed record OtlpExport(string Path, string? ContentType, byte[] Body, IReadOnlyDictionary<string, string> Headers);

/// <summary>
/// An OpenTelemetry collector's OTLP/HTTP receiver on 127.0.0.1:0: accepts <c>POST /v1/traces</c>
/// (protobuf), answers 200 with an empty <c>ExportTraceServiceResponse</c>, and keeps every body.
/// </summary>
public sealed class FakeOtlpCollector : IAsyncDisposable
{
    private readonly ConcurrentQueue<OtlpExport> _exports = new();
    private LoopbackServer _server = null!;

    public string Endpoint => $"http://127.0.0.1:{_server.Port}";

    public IReadOnlyList<OtlpExport> Exports => [.. _exports];

    public static async Task<FakeOtlpCollector> StartAsync()
    {
        var collector = new FakeOtlpCollector();
        collector._server = await LoopbackServer.StartAsync(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var header in context.Request.Headers)
            {
                headers[header.Key] = header.Value.ToString();
            }

            collector._exports.Enqueue(new OtlpExport(context.Request.Path.Value ?? "", context.Request.ContentType, body.ToArray(), headers));
            if (!HttpMethods.IsPost(context.Request.Method) || context.Request.Path != "/v1/traces")
            {
                context.Response.StatusCode = 404;
                return;
            }

            context.Response.ContentType = "application/x-protobuf";
        });
        return collector;
    }

    /// <summary>Every span of every export so far (OTLP/HTTP protobuf exports only).</summary>
    public IReadOnlyList<OtlpSpan> Spans => [.. _exports.Where(e => e.Path == "/v1/traces").SelectMany(e => OtlpSpans.Read(e.Body))];

    /// <summary>True when some export's body holds these bytes (protobuf keeps ids and strings as raw bytes).</summary>
    public bool Received(byte[] bytes) => _exports.Any(e => e.Body.AsSpan().IndexOf(bytes) >= 0);

    /// <summary>
    /// Flushes the agent's spans until <paramref name="received"/> holds. One flush is not enough: the SDK's flush
    /// returns once the batch has left its queue, which can be before the batch's POST reached this collector (its
    /// wait wakes every second to look at the queue). And a caller may have its whole answer before the agent ends the
    /// call's span (after the answer's last byte).
    /// </summary>
    public Task ExportedAsync(AgentHarness agent, Func<FakeOtlpCollector, bool> received, string what) =>
        Eventually.TrueAsync(
            () =>
            {
                agent.Get<AgentTracing>().Flush(500); // a flush that times out under load is only another poll
                return received(this);
            },
            what);

    /// <summary>At least <paramref name="count"/> spans of the trace, once the agent exported them (<see cref="ExportedAsync"/>).</summary>
    public async Task<List<OtlpSpan>> SpansAsync(AgentHarness agent, string traceId, int count)
    {
        List<OtlpSpan> spans = [];
        await ExportedAsync(agent, c => (spans = [.. c.Spans.Where(s => s.TraceId == traceId)]).Count >= count, $"{count} span(s) of trace {traceId} exported");
        return spans;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

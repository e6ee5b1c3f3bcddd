using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
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

    /// <summary>True when some export's body holds these bytes (protobuf keeps ids and strings as raw bytes).</summary>
    /// <summary>Every span of every export so far (OTLP/HTTP protobuf exports only).</summary>
    public IReadOnlyList<OtlpSpan> Spans => [.. _exports.Where(e => e.Path == "/v1/traces").SelectMany(e => OtlpSpans.Read(e.Body))];

    public bool Received(byte[] bytes) => _exports.Any(e => e.Body.AsSpan().IndexOf(bytes) >= 0);

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sidecar.Health;

/// <summary>The body of <c>/v1/health</c>.</summary>
internal sealed record HealthReport(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("since")] DateTimeOffset Since,
    [property: JsonPropertyName("probe")] string? Probe,
    [property: JsonPropertyName("lastProbeTime")] DateTimeOffset? LastProbeTime,
    [property: JsonPropertyName("lastProbeResult")] string? LastProbeResult,
    [property: JsonPropertyName("lastProbeDurationMs")] double? LastProbeDurationMs,
    [property: JsonPropertyName("consecutiveFailures")] int ConsecutiveFailures,
    [property: JsonPropertyName("registration")] string Registration,
    [property: JsonPropertyName("ready")] bool Ready,
    [property: JsonPropertyName("checks")] IReadOnlyList<HealthCheckReport> Checks,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("commit")] string Commit);

internal sealed record HealthCheckReport(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("ready")] bool Ready,
    [property: JsonPropertyName("detail")] string Detail,
    [property: JsonPropertyName("required")] bool Required = true);

internal sealed record StatusReport([property: JsonPropertyName("status")] string Status);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(StatusReport))]
internal sealed partial class HealthJsonContext : JsonSerializerContext;

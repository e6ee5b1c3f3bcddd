using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sidecar.Discovery;

/// <summary>One instance as <c>/hosts/{serviceId}</c> (Spring Cloud Sidecar) and <c>/v1/services/{name}/instances</c> show it.</summary>
internal sealed record InstanceReport(
    [property: JsonPropertyName("serviceId")] string ServiceId,
    [property: JsonPropertyName("instanceId")] string InstanceId,
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("port")] int Port,
    [property: JsonPropertyName("secure")] bool Secure,
    [property: JsonPropertyName("uri")] string Uri,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("zone")] string? Zone,
    [property: JsonPropertyName("metadata")] IReadOnlyDictionary<string, string> Metadata);

/// <summary>The body of <c>/v1/services</c>.</summary>
internal sealed record ServicesReport(
    [property: JsonPropertyName("services")] IReadOnlyList<ServiceSummary> Services,
    [property: JsonPropertyName("eureka")] EurekaRegistryReport? Eureka);

internal sealed record ServiceSummary(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("instances")] int Instances,
    [property: JsonPropertyName("up")] int Up);

/// <summary>Where the Eureka registry in memory came from, for diagnostics.</summary>
internal sealed record EurekaRegistryReport(
    [property: JsonPropertyName("origin")] string Origin,
    [property: JsonPropertyName("server")] string? Server,
    [property: JsonPropertyName("updatedAt")] DateTimeOffset? UpdatedAt,
    [property: JsonPropertyName("appsHashcode")] string AppsHashCode);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(IReadOnlyList<InstanceReport>))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
[JsonSerializable(typeof(ServicesReport))]
internal sealed partial class DiscoveryJsonContext : JsonSerializerContext;

using System.Text.Json.Serialization;
using Sidecar.Platform;
using Sidecar.Observability;

namespace Sidecar.Overview;

/// <summary>
/// What the status page shows, as one value: <c>GET /</c> with <c>Accept: application/json</c> answers
/// it as JSON, and the HTML page is rendered from the same value, so the two always agree. The
/// index fields (<c>name</c>, <c>version</c>, <c>routes</c>) are the ones <c>GET /</c> always had.
/// </summary>
internal sealed record AgentStatus(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("app")] string? App,
    [property: JsonPropertyName("time")] DateTimeOffset Time,
    [property: JsonPropertyName("health")] HealthSection Health,
    [property: JsonPropertyName("registration")] RegistrationSection Registration,
    [property: JsonPropertyName("services")] IReadOnlyList<ServiceSection> Services,
    [property: JsonPropertyName("tcpListeners")] IReadOnlyList<TcpListenerEntry> TcpListeners,
    [property: JsonPropertyName("config")] ConfigSection Config,
    [property: JsonPropertyName("events")] IReadOnlyList<EventEntry> Events,
    [property: JsonPropertyName("routes")] IReadOnlyList<AgentRoute> Routes);

/// <param name="Status">The app's health: UP, DOWN, STARTING, OUT_OF_SERVICE.</param>
/// <param name="InstanceStatus">The status reported to Eureka and on <c>/status</c>.</param>
internal sealed record HealthSection(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("since")] DateTimeOffset Since,
    [property: JsonPropertyName("probeUrl")] string? ProbeUrl,
    [property: JsonPropertyName("lastProbe")] DateTimeOffset? LastProbe,
    [property: JsonPropertyName("lastResult")] string? LastResult,
    [property: JsonPropertyName("consecutiveFailures")] int ConsecutiveFailures,
    [property: JsonPropertyName("instanceStatus")] string InstanceStatus,
    [property: JsonPropertyName("probes")] IReadOnlyList<ProbeEntry> Probes);

internal sealed record ProbeEntry(
    [property: JsonPropertyName("time")] DateTimeOffset Time,
    [property: JsonPropertyName("healthy")] bool Healthy,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("detail")] string Detail,
    [property: JsonPropertyName("durationMs")] double DurationMs);

/// <param name="State"><c>disabled</c> (standalone), <c>registered</c>, <c>not registered</c>, <c>deregistered</c>.</param>
/// <param name="Detail">The <c>registration</c> line of <c>/v1/health</c>.</param>
internal sealed record RegistrationSection(
    [property: JsonPropertyName("enabled")] bool Enabled,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("detail")] string Detail,
    [property: JsonPropertyName("eurekaStatus")] string? EurekaStatus,
    [property: JsonPropertyName("lastHeartbeat")] DateTimeOffset? LastHeartbeat,
    [property: JsonPropertyName("instanceId")] string? InstanceId,
    [property: JsonPropertyName("registryFetched")] DateTimeOffset? RegistryFetched,
    [property: JsonPropertyName("registryInstances")] int? RegistryInstances);

internal sealed record ServiceSection(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("up")] int Up,
    [property: JsonPropertyName("ejected")] int Ejected,
    [property: JsonPropertyName("instances")] IReadOnlyList<InstanceEntry> Instances,
    [property: JsonPropertyName("resilience")] ResilienceEntry? Resilience = null,
    [property: JsonPropertyName("history")] HistoryPoints? History = null);

/// <summary>
/// The admission rules a service has on (docs/resilience.md); null when it has none or was never called.
/// </summary>
/// <param name="Circuit"><c>closed</c>, <c>open</c> or <c>half-open</c>; null without a breaker.</param>
/// <param name="InFlight">Calls holding a bulkhead slot; null without a bulkhead.</param>
/// <param name="CacheHitRatio">Hits and revalidations / GET and HEAD calls, with <c>Cache=true</c>; null without a cache or before the first call.</param>
/// <param name="Rejected">Calls refused so far, by code (<c>concurrency-limit</c>, <c>rate-limited</c>, <c>circuit-open</c>).</param>
internal sealed record ResilienceEntry(
    [property: JsonPropertyName("circuit")] string? Circuit,
    [property: JsonPropertyName("inFlight")] int? InFlight,
    [property: JsonPropertyName("maxConcurrentRequests")] int? MaxConcurrentRequests,
    [property: JsonPropertyName("queued")] long? Queued,
    [property: JsonPropertyName("rateLimit")] int? RateLimit,
    [property: JsonPropertyName("rejected")] IReadOnlyDictionary<string, long> Rejected,
    [property: JsonPropertyName("cacheHitRatio")] double? CacheHitRatio = null);

/// <param name="State"><c>in rotation</c>, <c>ejected</c>, or <c>not UP</c> (Eureka status other than UP).</param>
/// <param name="ErrorRate">Failed attempts / attempts over the last minute; null without attempts.</param>
internal sealed record InstanceEntry(
    [property: JsonPropertyName("instanceId")] string InstanceId,
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("zone")] string? Zone,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("ejected")] bool Ejected,
    [property: JsonPropertyName("ejectedUntil")] DateTimeOffset? EjectedUntil,
    [property: JsonPropertyName("ejections")] int Ejections,
    [property: JsonPropertyName("inFlight")] int InFlight,
    [property: JsonPropertyName("consecutiveFailures")] int ConsecutiveFailures,
    [property: JsonPropertyName("recentRequests")] long RecentRequests,
    [property: JsonPropertyName("recentFailures")] long RecentFailures,
    [property: JsonPropertyName("errorRate")] double? ErrorRate);

/// <summary>One TCP listener (docs/forwarding.md#tcp-listeners): its counts since the start, read from the listener's counters.</summary>
/// <param name="Address">Where it listens: <c>127.0.0.1:15432</c> (the port bound, for a listener set to 0).</param>
/// <param name="Open">Connections open now.</param>
/// <param name="Connections">Connections accepted since the start.</param>
/// <param name="ConnectFailures">Failed connects to instances by reason (<c>refused</c>, <c>timeout</c>, <c>unreachable</c>, <c>error</c>), and <c>no_instance</c>: connections no instance was left for.</param>
internal sealed record TcpListenerEntry(
    [property: JsonPropertyName("port")] int Port,
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("service")] string Service,
    [property: JsonPropertyName("open")] long Open,
    [property: JsonPropertyName("connections")] long Connections,
    [property: JsonPropertyName("bytesToInstance")] long BytesToInstance,
    [property: JsonPropertyName("bytesToApp")] long BytesToApp,
    [property: JsonPropertyName("connectFailures")] IReadOnlyDictionary<string, long> ConnectFailures);

/// <param name="Source">Where the config comes from: the <c>config</c> line of <c>/v1/health</c>.</param>
internal sealed record ConfigSection(
    [property: JsonPropertyName("version")] long Version,
    [property: JsonPropertyName("since")] DateTimeOffset? Since,
    [property: JsonPropertyName("ready")] bool Ready,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("keys")] IReadOnlyList<ConfigEntry> Keys);

/// <param name="Masked">True when the value, or a part of it, is hidden (<see cref="ConfigRedaction.Shown"/>): the key looks secret, or the value carries a credential.</param>
internal sealed record ConfigEntry(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("value")] string Value,
    [property: JsonPropertyName("masked")] bool Masked);

internal sealed record EventEntry(
    [property: JsonPropertyName("time")] DateTimeOffset Time,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("message")] string Message);

[JsonSourceGenerationOptions(WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(AgentStatus))]
internal sealed partial class ObservabilityJsonContext : JsonSerializerContext;

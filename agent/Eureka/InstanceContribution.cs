namespace Sidecar.Eureka;

/// <summary>
/// What another capability adds to the registered instance (the actuator, docs/actuator.md#registration):
/// metadata, and the paths on the agent's port that <c>healthCheckUrl</c> and <c>statusPageUrl</c> point at
/// instead of <c>/healthcheck</c> and <c>/status</c>. Registered as a service; none by default.
/// </summary>
internal sealed record InstanceContribution(IReadOnlyDictionary<string, string> Metadata, string HealthCheckPath, string StatusPagePath);

namespace Sidecar.Configuration;

/// <summary>
/// One documented environment variable (docs/configuration.md#variables): the short name used in container specs,
/// the .NET configuration key it maps onto, and the Spring-style aliases accepted for it.
/// </summary>
/// <param name="Name">The documented variable, e.g. <c>APP_PORT</c>.</param>
/// <param name="Key">The configuration key it sets, e.g. <c>App:Port</c>.</param>
/// <param name="Aliases">Other names accepted for it (Prana / Spring Cloud Sidecar specs); the documented name wins.</param>
internal sealed record AgentVariable(string Name, string Key, params string[] Aliases);

namespace Sidecar.Actuator;

/// <summary>One link of the index: Spring Boot's <c>Link</c>, templated when the href holds a <c>{variable}</c>.</summary>
internal sealed record ActuatorLink(string Name, string Href)
{
    public bool Templated => Href.Contains('{', StringComparison.Ordinal);
}

/// <summary>
/// The index's <c>_links</c> as Spring Boot's <c>EndpointLinksResolver</c> builds them, with no I/O: <c>self</c>
/// (the URL asked, without a trailing slash), then one link per operation of each exposed endpoint, named by
/// the endpoint's id, or the id and its path variable for an operation that takes one (<c>loggers-name</c>).
/// Spring Boot Admin follows the links that are not <c>self</c> and not templated (docs/actuator.md#endpoints).
/// </summary>
internal static class ActuatorLinks
{
    // Each endpoint's operations: the link name and the path under the base path, in the order they are listed.
    private static readonly (ActuatorEndpoint Endpoint, string Name, string Path)[] Operations =
    [
        (ActuatorEndpoint.Health, "health", "/health"),
        (ActuatorEndpoint.Health, "health-path", "/health/{*path}"),
        (ActuatorEndpoint.Info, "info", "/info"),
        (ActuatorEndpoint.Env, "env", "/env"),
        (ActuatorEndpoint.Env, "env-toMatch", "/env/{toMatch}"),
        (ActuatorEndpoint.Loggers, "loggers", "/loggers"),
        (ActuatorEndpoint.Loggers, "loggers-name", "/loggers/{name}"),
        (ActuatorEndpoint.Metrics, "metrics", "/metrics"),
        (ActuatorEndpoint.Metrics, "metrics-requiredMetricName", "/metrics/{requiredMetricName}"),
        (ActuatorEndpoint.Prometheus, "prometheus", "/prometheus"),
    ];

    /// <param name="requestUrl">The URL the index was asked at (scheme, host and port as the client sent them).</param>
    /// <param name="exposed">The endpoints served.</param>
    public static IReadOnlyList<ActuatorLink> Resolve(string requestUrl, IReadOnlySet<ActuatorEndpoint> exposed)
    {
        var self = requestUrl.EndsWith('/') ? requestUrl[..^1] : requestUrl;
        var links = new List<ActuatorLink> { new("self", self) };
        foreach (var (endpoint, name, path) in Operations)
        {
            if (exposed.Contains(endpoint))
            {
                links.Add(new ActuatorLink(name, self + path));
            }
        }

        return links;
    }
}

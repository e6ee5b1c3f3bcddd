using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Routing;

namespace Sidecar.Hosting;

/// <summary>The JSON index served at <c>/</c>: the agent's name, version and routes, read from the routing table so it never drifts.</summary>
internal sealed record AgentIndex(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("routes")] IReadOnlyList<AgentRoute> Routes);

internal sealed record AgentRoute(
    [property: JsonPropertyName("methods")] IReadOnlyList<string> Methods,
    [property: JsonPropertyName("path")] string Path);

internal static class AgentIndexApi
{
    public static readonly string Version =
        typeof(AgentIndexApi).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public static IEndpointRouteBuilder MapAgentIndex(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapMethods("/ping", ListenerExtensions.GetAndHead, () => TypedResults.Text("pong", "text/plain")); // Prana
        endpoints.MapGet("/", (EndpointDataSource source) => TypedResults.Json(Build(source), HostingJsonContext.Default.AgentIndex));
        endpoints.MapFallback((HttpContext context) => Problems.Result(StatusCodes.Status404NotFound, "route-not-found", "No such route",
            $"The agent has no route {context.Request.Method} {context.Request.Path}; GET / lists them."));
        return endpoints;
    }

    private static AgentIndex Build(EndpointDataSource source)
    {
        var routes = new List<AgentRoute>();
        foreach (var endpoint in source.Endpoints)
        {
            if (endpoint is RouteEndpoint route && route.RoutePattern.RawText is { } path && !path.StartsWith("{*", StringComparison.Ordinal))
            {
                var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"];
                routes.Add(new AgentRoute(methods, path.StartsWith('/') ? path : "/" + path));
            }
        }

        routes.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return new AgentIndex("sidecar-agent", Version, routes);
    }
}

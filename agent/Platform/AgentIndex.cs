using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Routing;

namespace Sidecar.Platform;

/// <summary>One route of the API, as listed by <c>GET /</c> (its <c>routes</c> array), read from the routing table so it never drifts.</summary>
internal sealed record AgentRoute(
    [property: JsonPropertyName("methods")] IReadOnlyList<string> Methods,
    [property: JsonPropertyName("path")] string Path);

internal static class AgentIndexApi
{
    // "1.4.2+3f2c9e1..." from dotnet publish -p:Version=1.4.2 -p:SourceRevisionId=3f2c9e1... (the SDK adds the
    // commit after a '+'); a build from a git clone gets the commit by itself (Source Link).
    private static readonly string Informational =
        System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(typeof(AgentIndexApi).Assembly)?.InformationalVersion
        ?? typeof(AgentIndexApi).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>The version stamped at build (<c>-p:Version=</c>), without the commit.</summary>
    public static readonly string Version = Informational.Split('+')[0];

    /// <summary>The commit stamped at build (<c>-p:SourceRevisionId=</c>), shortened to 12 characters; <c>unknown</c> when none was.</summary>
    public static readonly string Commit = Informational.IndexOf('+', StringComparison.Ordinal) is var plus and > 0 && plus < Informational.Length - 1
        ? Informational[(plus + 1)..][..Math.Min(12, Informational.Length - plus - 1)]
        : "unknown";

    public static IEndpointRouteBuilder MapAgentIndex(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapMethods("/ping", ListenerExtensions.GetAndHead, () => TypedResults.Text("pong", "text/plain")); // Prana
        // GET / (the index, with the status page) is mapped by Observability: AgentStatus carries these routes.
        var methods = new RouteMethods(endpoints.ServiceProvider);
        // Every path, files too: the default fallback pattern ({*path:nonfile}) left "/v1/config/db.url" to a bare 404.
        endpoints.MapFallback("{**path}", context => NoRouteAsync(context, methods));
        return endpoints;
    }

    // A path the API knows with another method is a 405 with Allow (RFC 9110, 15.5.6); anything else a 404.
    private static Task NoRouteAsync(HttpContext context, RouteMethods methods)
    {
        if (methods.Allowed(context.Request.Path) is { } allowed)
        {
            return Problems.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "method-not-allowed", "Method not allowed",
                $"{context.Request.Path} answers {allowed} only, not {context.Request.Method}.", allow: allowed);
        }

        return Problems.WriteAsync(context, StatusCodes.Status404NotFound, "route-not-found", "No such route",
            $"The agent has no route {context.Request.Method} {context.Request.Path}; GET / lists them.");
    }

    /// <summary>Every route of the API, sorted by path (the catch-all forwarding routes left out).</summary>
    public static IReadOnlyList<AgentRoute> Routes(EndpointDataSource source)
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
        return routes;
    }
}

using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;

namespace Sidecar.Platform;

/// <summary>
/// The methods each route of the API answers, for the fallback: <c>POST /ping</c> is a 405 with
/// <c>Allow</c>, as on the public health listener, not a 404. Routing would say so itself but for the
/// fallback route, which takes every method and so wins over its 405. Only routes that name their
/// methods count: the forwarding routes take any method and never reach the fallback.
/// </summary>
internal sealed class RouteMethods(IServiceProvider services)
{
    private (TemplateMatcher Matcher, IReadOnlyList<string> Methods)[]? _routes;

    /// <summary>The <c>Allow</c> value for <paramref name="path"/> (<c>GET, HEAD</c>), or null when no route has that path.</summary>
    public string? Allowed(PathString path)
    {
        // Built on the first miss, when every route is mapped; the table does not change afterwards.
        var routes = _routes ??= Build(services.GetRequiredService<EndpointDataSource>());
        List<string>? allowed = null;
        var values = new RouteValueDictionary();
        foreach (var (matcher, methods) in routes)
        {
            values.Clear();
            if (!matcher.TryMatch(path, values))
            {
                continue;
            }

            allowed ??= [];
            foreach (var method in methods)
            {
                if (!allowed.Contains(method, StringComparer.OrdinalIgnoreCase))
                {
                    allowed.Add(method);
                }
            }
        }

        return allowed is null ? null : string.Join(", ", allowed);
    }

    private static (TemplateMatcher, IReadOnlyList<string>)[] Build(EndpointDataSource source)
    {
        var routes = new List<(TemplateMatcher, IReadOnlyList<string>)>();
        foreach (var endpoint in source.Endpoints)
        {
            if (endpoint is RouteEndpoint route && endpoint.Metadata.GetMetadata<IHttpMethodMetadata>() is { HttpMethods.Count: > 0 } methods)
            {
                routes.Add((new TemplateMatcher(new RouteTemplate(route.RoutePattern), []), methods.HttpMethods));
            }
        }

        return [.. routes];
    }
}

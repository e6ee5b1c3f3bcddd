using Microsoft.AspNetCore.Connections.Features;

namespace Sidecar.Platform;

/// <summary>What the listeners share with the routes: which connection a request came on, the public health guard (the listeners are set up by <c>AddAgentListeners</c> in Hosting/).</summary>
internal static class ListenerExtensions
{
    /// <summary>The routes the public health listener serves; everything else is refused there (docs/operations.md#listeners-and-security-defaults).</summary>
    public static readonly IReadOnlySet<string> PublicHealthRoutes = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "/ping", "/healthcheck", "/status", "/v1/health", "/v1/health/live", "/v1/health/ready",
    };

    /// <summary>Set in the connection's items on every connection of the metrics listener (<c>SIDECAR_METRICS_PORT</c>).</summary>
    public const string MetricsItemKey = "sidecar.metrics";

    /// <summary>Set in the connection's items on every connection of the gRPC listener (<c>SIDECAR_GRPC_PORT</c>, docs/grpc.md).</summary>
    public const string GrpcItemKey = "sidecar.grpc";

    /// <summary>The methods of the health routes: a HEAD is a GET without the body (RFC 9110, 9.3.2), as probes and uptime checkers send it.</summary>
    public static readonly string[] GetAndHead = ["GET", "HEAD"];

    /// <summary>
    /// On the public health listener: GET and HEAD of the health routes only (a trailing slash allowed,
    /// as on the API), and the paths a capability claims (<see cref="PublicRoutes"/>), nothing else; every
    /// answer there closes its connection.
    /// </summary>
    public static IApplicationBuilder UsePublicHealthGuard(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        if (PublicConnection(context) is not { } connection)
        {
            return next(context);
        }

        // The request head is in: the idle time-out no longer applies, and the answer ends the connection.
        connection.MarkRequestStarted();
        context.Response.OnStarting(static state =>
        {
            ((HttpResponse)state).Headers.Connection = "close";
            return Task.CompletedTask;
        }, context.Response);

        var path = context.Request.Path.Value ?? "";
        if (context.RequestServices.GetService<PublicRoutes>()?.Claims(path) == true)
        {
            return next(context);
        }

        if (!IsPublicHealthRoute(path))
        {
            return Problems.WriteAsync(context, StatusCodes.Status404NotFound, "not-found", "Not found",
                "This listener serves the health routes only.");
        }

        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            return Problems.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "method-not-allowed", "Method not allowed",
                "This listener is read-only.", allow: "GET, HEAD");
        }

        return next(context);
    });

    internal static bool IsPublicConnection(HttpContext context) => PublicConnection(context) is not null;

    /// <summary>True on a connection of the metrics listener, which serves <c>/metrics</c> and nothing else.</summary>
    internal static bool IsMetricsConnection(HttpContext context) =>
        HttpFeatures.ConnectionItems(context)?.Items.ContainsKey(MetricsItemKey) == true;

    /// <summary>True on a connection of the gRPC listener, where every request is forwarded over HTTP/2.</summary>
    internal static bool IsGrpcConnection(HttpContext context) =>
        HttpFeatures.ConnectionItems(context)?.Items.ContainsKey(GrpcItemKey) == true;

    private static PublicHealthConnection? PublicConnection(HttpContext context) =>
        HttpFeatures.ConnectionItems(context)?.Items.TryGetValue(PublicHealthConnections.ItemKey, out var item) == true
            ? item as PublicHealthConnection
            : null;

    // Routing on the API matches "/healthcheck/" as "/healthcheck": the public listener agrees.
    private static bool IsPublicHealthRoute(string path) =>
        PublicHealthRoutes.Contains(path) || (path.Length > 1 && path[^1] == '/' && PublicHealthRoutes.Contains(path[..^1]));
}

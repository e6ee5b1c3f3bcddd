using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Hosting;

internal static class ListenerExtensions
{
    /// <summary>The routes the public health listener serves; everything else is refused there (docs/operations.md#listeners-and-security-defaults).</summary>
    public static readonly IReadOnlySet<string> PublicHealthRoutes = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "/ping", "/healthcheck", "/status", "/v1/health", "/v1/health/live", "/v1/health/ready",
    };

    /// <summary>Set in the connection's items on every connection of the metrics listener (<c>SIDECAR_METRICS_PORT</c>).</summary>
    public const string MetricsItemKey = "sidecar.metrics";

    /// <summary>The methods of the health routes: a HEAD is a GET without the body (RFC 9110, 9.3.2), as probes and uptime checkers send it.</summary>
    public static readonly string[] GetAndHead = ["GET", "HEAD"];

    /// <summary>
    /// The API on <c>SIDECAR_BIND_ADDRESS:SIDECAR_PORT</c> (loopback by default) and, when
    /// <c>SIDECAR_PUBLIC_HEALTH_PORT</c> is set, a listener on all interfaces for the health routes only.
    /// </summary>
    public static void AddAgentListeners(this WebApplicationBuilder builder, SidecarOptions options)
    {
        builder.Services.AddHostedService<StartupLogger>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<PublicHealthConnections>();
        if (InlineIo.Enabled)
        {
            builder.WebHost.UseSockets(sockets =>
            {
                sockets.UnsafePreferInlineScheduling = true;
                // A real read at once instead of a zero-byte read first: one system call less per
                // request, for a 4 KiB buffer kept per connection (a sidecar has few).
                sockets.WaitForDataBeforeAllocatingBuffer = false;
            });
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // An absolute-form target (GET http://Orders/x through HTTP_PROXY) names the host; the Host
            // header is then ignored, as RFC 9112 section 3.2.2 asks of a proxy. Without this Kestrel
            // compares the two case-sensitively after lower-casing the target's, and refuses
            // "http://Orders/" with Host "Orders" by a bare 400. ForwardProxyMiddleware reads the raw target.
            kestrel.AllowHostHeaderOverride = true;

            // Header values as bytes, one character each (Latin-1), both ways, as nginx passes them: a
            // UTF-8 "X-User: José" from an app, or a UTF-8 filename in an instance's Content-Disposition,
            // is relayed unchanged instead of failing (docs/forwarding.md#bodies-and-headers). Kestrel still
            // refuses CR, LF and NUL in requests; the forwarder refuses the other control characters.
            kestrel.RequestHeaderEncodingSelector = static _ => System.Text.Encoding.Latin1;
            kestrel.ResponseHeaderEncodingSelector = static _ => System.Text.Encoding.Latin1;
            kestrel.ApplyAgentLimits();
            kestrel.Listen(options.BindAddress, options.Port);
            if (options.PublicHealthPort is { } publicPort)
            {
                // [::], dual-mode (IPv4 clients too), so IPv6-only pods are probed as well; Kestrel falls
                // back to 0.0.0.0 where IPv6 cannot be bound (a port in use still fails the start).
                kestrel.ListenAnyIP(publicPort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1; // probes speak HTTP/1.1; Connection: close is an HTTP/1 notion
                    listen.Use(listen.ApplicationServices.GetRequiredService<PublicHealthConnections>().Use);
                });
            }

            if (options.MetricsPort is { } metricsPort)
            {
                // All interfaces, as the public health listener: Prometheus scrapes from outside the pod.
                kestrel.ListenAnyIP(metricsPort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1;
                    listen.Use(next => connection =>
                    {
                        connection.Items[MetricsItemKey] = true;
                        return next(connection);
                    });
                });
            }
        });
    }

    /// <summary>
    /// On the public health listener: GET and HEAD of the health routes only (a trailing slash allowed,
    /// as on the API), nothing else; every answer there closes its connection.
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

        if (!IsPublicHealthRoute(context.Request.Path.Value ?? ""))
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
        context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(MetricsItemKey) == true;

    private static PublicHealthConnection? PublicConnection(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(PublicHealthConnections.ItemKey, out var item) == true
            ? item as PublicHealthConnection
            : null;

    // Routing on the API matches "/healthcheck/" as "/healthcheck": the public listener agrees.
    private static bool IsPublicHealthRoute(string path) =>
        PublicHealthRoutes.Contains(path) || (path.Length > 1 && path[^1] == '/' && PublicHealthRoutes.Contains(path[..^1]));
}

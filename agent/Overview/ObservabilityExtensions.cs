using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Net.Http.Headers;
using Sidecar.Platform;
using Sidecar.Observability;
using Sidecar.AppConfig;
using Sidecar.Eureka;
using Sidecar.Forwarding;
using Sidecar.Health;

namespace Sidecar.Overview;

internal static class ObservabilityExtensions
{
    /// <summary>Metrics cells, the event log, tracing (an exporter only when an OTLP endpoint is set), the observer and the status page. Safe to call twice.</summary>
    public static IServiceCollection AddObservability(this IServiceCollection services, ObservabilityOptions options)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(options);
        services.TryAddSingleton<AgentEventLog>();
        services.TryAddSingleton<MetricsRegistry>();
        services.TryAddSingleton(sp => new ForwardingMetrics(sp.GetRequiredService<AgentEventLog>(), sp.GetRequiredService<MetricsRegistry>().ForwardDuration));
        services.TryAddSingleton<EurekaMetrics>();
        services.TryAddSingleton(sp => new HealthMetrics(sp.GetRequiredService<MetricsRegistry>().ProbeDuration));
        services.TryAddSingleton<ConfigMetrics>();
        services.TryAddSingleton<AgentTracing>();
        services.TryAddSingleton<InstanceErrorRates>();
        services.TryAddSingleton<PrometheusMetrics>();
        services.TryAddSingleton<AgentStatusBuilder>();
        if (!services.Any(d => d.ServiceType == typeof(AgentObserver)))
        {
            services.AddSingleton<AgentObserver>();
            services.AddHostedService(sp => sp.GetRequiredService<AgentObserver>());
        }

        return services;
    }

    /// <summary>
    /// <c>GET /metrics</c> (Prometheus) and <c>GET /</c>: the status page for browsers, JSON otherwise.
    /// Both on the API listener only: the public health listener serves health routes and nothing else.
    /// </summary>
    public static IEndpointRouteBuilder MapObservability(this IEndpointRouteBuilder endpoints)
    {
        // Start the tracer provider and the observer's subscriptions now, before the first request or probe.
        _ = endpoints.ServiceProvider.GetRequiredService<AgentTracing>();
        _ = endpoints.ServiceProvider.GetRequiredService<AgentObserver>();

        // HEAD as GET without the body (RFC 9110 section 9.3.2): what monitors send to check a scrape target.
        endpoints.MapMethods("/metrics", ListenerExtensions.GetAndHead, WriteMetricsAsync);
        endpoints.MapOperationsApi();

        endpoints.MapGet("/", (HttpContext context, AgentStatusBuilder builder) =>
        {
            var status = builder.Build();
            var headers = context.Response.Headers;
            headers.CacheControl = "no-store";
            if (context.Request.Query["view"] == "fragment")
            {
                headers.XContentTypeOptions = "nosniff";
                return Results.Text(StatusPage.RenderFragment(status), "text/html; charset=utf-8");
            }

            if (!PrefersHtml(context.Request))
            {
                return Results.Json(status, ObservabilityJsonContext.Default.AgentStatus);
            }

            headers.ContentSecurityPolicy = StatusPage.ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            return Results.Text(StatusPage.Render(status), "text/html; charset=utf-8");
        });
        return endpoints;
    }

    /// <summary>
    /// The metrics listener (<c>SIDECAR_METRICS_PORT</c>): <c>GET</c> or <c>HEAD /metrics</c> and nothing else,
    /// answered here, before routing and the forwarder, so no request there can reach the API or another service.
    /// </summary>
    public static IApplicationBuilder UseMetricsListener(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        if (!ListenerExtensions.IsMetricsConnection(context))
        {
            return next(context);
        }

        var path = context.Request.Path.Value ?? "";
        if (path is not ("/metrics" or "/metrics/"))
        {
            return Platform.Problems.WriteAsync(context, StatusCodes.Status404NotFound, "not-found", "Not found", "This listener serves /metrics only.");
        }

        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            return Platform.Problems.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "method-not-allowed", "Method not allowed",
                "This listener is read-only.", allow: "GET, HEAD");
        }

        return WriteMetricsAsync(context, context.RequestServices.GetRequiredService<PrometheusMetrics>());
    });

    private static Task WriteMetricsAsync(HttpContext context, PrometheusMetrics metrics)
    {
        context.Response.ContentType = MetricsRegistry.ContentType;
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : metrics.WriteAsync(context.Response.Body, context.RequestAborted);
    }

    /// <summary>
    /// HTML only when the Accept header ranks text/html above application/json (a browser's
    /// <c>text/html,...,*/*;q=0.8</c>); no Accept, <c>*/*</c> or a tie gets JSON, as <c>GET /</c> always gave.
    /// </summary>
    internal static bool PrefersHtml(HttpRequest request)
    {
        var accept = request.Headers.Accept;
        if (accept.Count == 0 || !MediaTypeHeaderValue.TryParseList(accept, out var types))
        {
            return false;
        }

        double html = 0, json = 0;
        foreach (var type in types)
        {
            var quality = type.Quality ?? 1;
            if (type.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase))
            {
                html = Math.Max(html, quality);
            }
            else if (type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) ||
                     type.MediaType.Equals("application/*", StringComparison.OrdinalIgnoreCase) ||
                     type.MediaType.Equals("*/*", StringComparison.OrdinalIgnoreCase))
            {
                json = Math.Max(json, quality);
            }
        }

        return html > json;
    }
}

using Microsoft.Extensions.DependencyInjection.Extensions;
using Sidecar.Discovery;
using Sidecar.Platform;
using Sidecar.Observability;

namespace Sidecar.Forwarding;

internal static class ForwardingExtensions
{
    private const string InvokePrefix = "/v1/invoke/";

    /// <summary>The forwarder, its instance pools (and their sweeper) and the static <c>ROUTES</c> source. Safe to call twice.</summary>
    public static IServiceCollection AddForwarding(this IServiceCollection services, ForwardingOptions options)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(options);
        services.TryAddSingleton<ServiceCatalog>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceInstanceSource, StaticRouteSource>());
        services.TryAddSingleton<ForwardingLog>();
        services.TryAddSingleton<SelfAddresses>();
        services.TryAddSingleton<ServicePools>();
        services.AddServingLifetime();
        services.TryAddSingleton(sp => new UpgradeDrain(sp.GetService<IHostApplicationLifetime>(), sp.GetService<ServingLifetime>()));
        services.TryAddSingleton<Forwarder>();
        services.TryAddSingleton<Grpc.GrpcForwarder>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ServicePoolSweeper>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMetricsContributor, ForwardingFamilies>());
        return services;
    }

    /// <summary>
    /// The gRPC listener's requests (docs/grpc.md, when <c>SIDECAR_GRPC_PORT</c> is set), then the three ways in: the forward-proxy middleware (ahead of the endpoints), <c>ANY /v1/invoke/{service}/{**path}</c>
    /// and Prana's <c>ANY /proxy?vip=X&amp;path=/p</c>. A plain <c>/v1/invoke/{service}/...</c> is taken by a middleware
    /// (<see cref="IsPlainInvoke"/>), and routing runs after it and after the forward-proxy middleware: a forwarded
    /// call never pays for route matching and endpoint dispatch (docs/performance.md#what-was-tuned). Every other
    /// request, an odd <c>/v1/invoke</c> target included, meets the route, which answers it with the same code.
    /// </summary>
    public static WebApplication MapForwarding(this WebApplication app)
    {
        if (app.Services.GetService<Configuration.SidecarOptions>()?.GrpcPort is not null)
        {
            // Only with a gRPC listener: the API's requests pay for no check otherwise.
            var grpc = app.Services.GetRequiredService<Grpc.GrpcForwarder>();
            app.Use((context, next) => ListenerExtensions.IsGrpcConnection(context) ? grpc.ForwardAsync(context) : next(context));
        }

        app.UseMiddleware<ForwardProxyMiddleware>();
        var forwarder = app.Services.GetRequiredService<Forwarder>();
        app.Use((context, next) =>
            !ListenerExtensions.IsPublicConnection(context) &&
            IsPlainInvoke(HttpFeatures.RawTarget(context), context.Request.Path.Value)
                ? InvokeAsync(context, forwarder)
                : next(context));
        app.UseRouting();
        app.Map("/v1/invoke/{service}/{**path}", context => InvokeAsync(context, forwarder));
        app.Map("/proxy", context => ProxyAsync(context, forwarder));
        return app;
    }

    /// <summary>
    /// True when the route <c>/v1/invoke/{service}/{**path}</c> surely matches and the raw target is in origin form
    /// with the prefix written plainly: the decoded path starts with the prefix (any case, as routing compares)
    /// and a non-empty service segment follows it, in the decoded path and in the raw target alike. Anything
    /// else (percent-encoded prefix, dot segments, an empty service, absolute form) is left to routing.
    /// </summary>
    internal static bool IsPlainInvoke(string rawTarget, string? path) =>
        HasServiceAfterPrefix(rawTarget) && path is not null && HasServiceAfterPrefix(path);

    private static bool HasServiceAfterPrefix(string value) =>
        value.Length > InvokePrefix.Length &&
        value.StartsWith(InvokePrefix, StringComparison.OrdinalIgnoreCase) &&
        value[InvokePrefix.Length] is not ('/' or '?');

    /// <summary>
    /// The service and the rest are cut from the raw target, not from the decoded route values, so
    /// the instance gets the path exactly as the caller encoded it (query string included).
    /// </summary>
    private static Task InvokeAsync(HttpContext context, Forwarder forwarder)
    {
        var raw = HttpFeatures.RawTarget(context);
        if (raw.Length > 0 && raw[0] != '/' && ForwardProxyMiddleware.TrySplitAbsolute(raw, out _, out var originForm))
        {
            raw = originForm; // absolute-form addressed to the agent itself
        }

        if (!raw.StartsWith(InvokePrefix, StringComparison.OrdinalIgnoreCase))
        {
            return Problems.WriteAsync(context, StatusCodes.Status400BadRequest, ForwardingProblems.BadPath, "Bad path",
                "Write /v1/invoke/{service}/{path} without percent-encoding its first three segments.");
        }

        SplitInvoke(raw, out var name, out var target);
        return forwarder.ForwardAsync(context, name, target);
    }

    /// <summary>True when <paramref name="raw"/> starts with <c>/v1/invoke/</c>: the service named there and the rest (<c>/</c> when empty).</summary>
    internal static bool TrySplitInvoke(string raw, out string service, out string target)
    {
        service = "";
        target = "/";
        if (!raw.StartsWith(InvokePrefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        SplitInvoke(raw, out service, out target);
        return true;
    }

    private static void SplitInvoke(string raw, out string name, out string target)
    {
        var rest = raw.AsSpan(InvokePrefix.Length);
        var end = rest.IndexOfAny('/', '?');
        var service = end < 0 ? rest : rest[..end];
        target = end < 0 ? "/" : rest[end] == '?' ? "/" + rest[end..].ToString() : rest[end..].ToString();
        name = service.Contains('%') ? Uri.UnescapeDataString(service.ToString()) : service.ToString();
    }

    /// <summary>Prana's proxy: <c>vip</c> names the service, <c>path</c> (decoded from the query) is the path and query to call.</summary>
    private static Task ProxyAsync(HttpContext context, Forwarder forwarder)
    {
        var query = context.Request.Query;
        var vip = query["vip"];
        if (vip.Count != 1 || string.IsNullOrWhiteSpace(vip[0]))
        {
            return Problems.WriteAsync(context, StatusCodes.Status400BadRequest, ForwardingProblems.BadRequest, "Bad request",
                "/proxy needs one vip parameter: /proxy?vip=orders&path=/api/x%3Fq%3D1");
        }

        var path = query["path"];
        if (path.Count > 1)
        {
            return Problems.WriteAsync(context, StatusCodes.Status400BadRequest, ForwardingProblems.BadRequest, "Bad request",
                "/proxy takes at most one path parameter.");
        }

        return forwarder.ForwardAsync(context, vip[0]!.Trim(), path.Count == 0 || string.IsNullOrEmpty(path[0]) ? "/" : path[0]!);
    }
}

using Microsoft.Extensions.DependencyInjection.Extensions;
using Sidecar.Observability;

namespace Sidecar.Health;

internal static class HealthExtensions
{
    /// <summary>The app health monitor and its probe (HTTP, TCP for a <c>tcp://</c> URL, gRPC for <c>grpc://</c>). Safe to call twice.</summary>
    public static IServiceCollection AddAppHealth(this IServiceCollection services, AppHealthOptions options)
    {
        services.TryAddSingleton(TimeProvider.System);
        if (options.Url is not null && TcpAppHealthProbe.IsTcp(options.Url))
        {
            services.TryAddSingleton<IAppHealthProbe, TcpAppHealthProbe>();
        }
        else if (options.Url is not null && GrpcAppHealthProbe.IsGrpc(options.Url))
        {
            services.TryAddSingleton<IAppHealthProbe, GrpcAppHealthProbe>();
        }
        else if (options.Url is not null)
        {
            services.TryAddSingleton<IAppHealthProbe, HttpAppHealthProbe>();
        }

        services.TryAddSingleton(sp => new AppHealthMonitor(
            options,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<AppHealthMonitor>>(),
            sp.GetService<IAppHealthProbe>()));
        services.AddHostedService(sp => sp.GetRequiredService<AppHealthMonitor>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMetricsContributor, HealthFamilies>());
        return services;
    }
}

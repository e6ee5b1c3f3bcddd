using Microsoft.Extensions.DependencyInjection.Extensions;
using Sidecar.Eureka;
using Sidecar.Configuration;
using Sidecar.Observability;

namespace Sidecar.Discovery;

internal static class DiscoveryExtensions
{
    /// <summary>
    /// The service catalog over every registered <see cref="IServiceInstanceSource"/> and, in
    /// registered mode, the Eureka registry (cache, refresher, disk snapshot) as one of those sources,
    /// with its <c>registry</c> readiness check.
    /// Safe to call twice.
    /// </summary>
    public static IServiceCollection AddDiscovery(this IServiceCollection services, EurekaOptions eureka, AppOptions app, SidecarOptions sidecar)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ServiceCatalog>();
        if (!eureka.Enabled || services.Any(d => d.ServiceType == typeof(EurekaRegistry)))
        {
            return services;
        }

        services.TryAddSingleton<EurekaHttpClient>();
        services.TryAddSingleton(sp => new LocalInstance(app, eureka, sidecar, sp.GetService<InstanceContribution>())); // the client's server order is seeded by its IP
        services.AddSingleton<EurekaRegistry>();
        services.TryAddSingleton<Configuration.DataFolder>();
        services.TryAddSingleton<RegistrySnapshotStore>();
        services.TryAddSingleton<EurekaRegistryRefresher>();
        services.AddHostedService(sp => sp.GetRequiredService<EurekaRegistryRefresher>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMetricsContributor, RegistryFamilies>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMetricsContributor, EurekaFamilies>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceInstanceSource, EurekaInstanceSource>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Health.IReadinessCheck, RegistryReadinessCheck>());
        return services;
    }
}

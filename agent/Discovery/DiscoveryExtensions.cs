using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Sidecar.Discovery;

internal static class DiscoveryExtensions
{
    /// <summary>The service catalog over every registered <see cref="IServiceInstanceSource"/>. Safe to call twice.</summary>
    public static IServiceCollection AddDiscovery(this IServiceCollection services)
    {
        services.TryAddSingleton<ServiceCatalog>();
        return services;
    }
}

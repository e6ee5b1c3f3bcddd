using Microsoft.Extensions.DependencyInjection.Extensions;
using Sidecar.Platform;
using Sidecar.Observability;

namespace Sidecar.Supervisor;

internal static class SupervisorExtensions
{
    /// <summary>Supervises the app's process when the agent was started as <c>agent run -- CMD...</c>; nothing otherwise.</summary>
    public static IServiceCollection AddSupervisor(this IServiceCollection services, SupervisorOptions options)
    {
        services.TryAddSingleton(options);
        if (options.Command.Count > 0)
        {
            // Right after ServingLifetime, the first hosted service: StoppingAsync runs in reverse order of
            // registration, so the child gets SIGTERM after every other StoppingAsync (the drain) and the
            // agent serves until it has exited; ServingLifetime then ends, Kestrel stops, the lease is cancelled.
            services.AddServingLifetime();
            services.TryAddSingleton<AppProcess>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IMetricsContributor, AppProcessFamilies>());
            var servingLifetime = services.IndexOf(services.First(d => d.ServiceType == typeof(IHostedService))); // AddServingLifetime put it first
            services.Insert(servingLifetime + 1, ServiceDescriptor.Singleton<IHostedService>(sp => sp.GetRequiredService<AppProcess>()));
        }

        return services;
    }
}

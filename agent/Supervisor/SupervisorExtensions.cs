using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Sidecar.Supervisor;

internal static class SupervisorExtensions
{
    /// <summary>Supervises the app's process when the agent was started as <c>agent run -- CMD...</c>; nothing otherwise.</summary>
    public static IServiceCollection AddSupervisor(this IServiceCollection services, SupervisorOptions options)
    {
        services.TryAddSingleton(options);
        if (options.Command.Count > 0)
        {
            // Registered last among hosted services so that it stops first: the child gets SIGTERM
            // after every other StoppingAsync (the drain) and before the lease is cancelled.
            services.AddHostedService<AppProcess>();
        }

        return services;
    }
}

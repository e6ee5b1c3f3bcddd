using Microsoft.Extensions.DependencyInjection.Extensions;
using Sidecar.Configuration;
using Sidecar.Observability;

namespace Sidecar.Forwarding.Tcp;

internal static class TcpExtensions
{
    /// <summary>
    /// The TCP listeners of <c>SIDECAR_TCP_LISTENERS</c>, when there are any (docs/forwarding.md#tcp-listeners). Add after
    /// the registration: their <c>StoppingAsync</c> (stop accepting) then runs before the drain. Safe to call twice.
    /// </summary>
    public static IServiceCollection AddTcpListeners(this IServiceCollection services, ForwardingOptions options, SidecarOptions sidecar)
    {
        if (options.TcpListeners.Count == 0 || services.Any(d => d.ServiceType == typeof(TcpListeners)))
        {
            return services;
        }

        services.TryAddSingleton<TcpLog>();
        services.TryAddSingleton(sp => new TcpMetrics(options, sp.GetService<MetricsRegistry>()));
        services.TryAddSingleton(sp => new TcpConnector(sp.GetRequiredService<ServicePools>(), options, sp.GetRequiredService<TcpLog>()) { BindAddress = sidecar.BindAddress });
        services.AddSingleton<TcpListeners>();
        services.AddHostedService(sp => sp.GetRequiredService<TcpListeners>());
        return services;
    }
}

using Sidecar.Eureka;
using Sidecar.Platform;

namespace Sidecar.Discovery;

/// <summary>
/// What the app can ask about other services (docs/eureka.md#routes): Prana's <c>/eureka/hosts</c>,
/// Spring Cloud Sidecar's <c>/hosts/{serviceId}</c>, and the native <c>/v1/services</c> routes.
/// All answer from the catalog in memory (Eureka's registry and static routes), never from Eureka.
/// </summary>
internal static class DiscoveryApi
{
    public static IEndpointRouteBuilder MapDiscoveryApi(this IEndpointRouteBuilder endpoints)
    {
        // Prana: host strings of the UP instances of appName, optionally only those behind vip. Prana filtered
        // the wrong way and ignored preferIp; here hosts are IPs when EUREKA_PREFER_IP is on.
        endpoints.MapGet("/eureka/hosts", (string? appName, string? vip, ServiceCatalog catalog) =>
        {
            if (string.IsNullOrWhiteSpace(appName))
            {
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Missing appName",
                    "GET /eureka/hosts?appName=NAME[&vip=VIP] needs appName.");
            }

            var instances = catalog.GetInstances(appName.Trim()) ?? [];
            HashSet<string>? behindVip = null;
            if (!string.IsNullOrWhiteSpace(vip))
            {
                behindVip = new HashSet<string>(StringComparer.Ordinal);
                foreach (var instance in catalog.GetInstances(vip.Trim()) ?? [])
                {
                    behindVip.Add(instance.InstanceId);
                }
            }

            var hosts = new List<string>(instances.Count);
            foreach (var instance in instances)
            {
                if (instance.Status == InstanceStatus.Up && (behindVip is null || behindVip.Contains(instance.InstanceId)))
                {
                    hosts.Add(instance.Host);
                }
            }

            return TypedResults.Json<IReadOnlyList<string>>(hosts, DiscoveryJsonContext.Default.IReadOnlyListString);
        });

        // Spring Cloud Sidecar: its DiscoveryClient lists UP instances only (Netflix's client filters the others
        // out, eureka.client.filterOnlyUpInstances); an unknown service is an empty list, as there.
        // /v1/services/{name}/instances keeps every status.
        endpoints.MapGet("/hosts/{serviceId}", (string serviceId, ServiceCatalog catalog) =>
            TypedResults.Json(Reports(catalog.GetInstances(serviceId), upOnly: true), DiscoveryJsonContext.Default.IReadOnlyListInstanceReport));

        endpoints.MapGet("/v1/services", (ServiceCatalog catalog, IServiceProvider services) =>
            TypedResults.Json(Summary(catalog, services.GetService<EurekaRegistry>()), DiscoveryJsonContext.Default.ServicesReport));

        endpoints.MapGet("/v1/services/{name}/instances", (string name, ServiceCatalog catalog) =>
            catalog.GetInstances(name) is { } instances
                ? TypedResults.Json(Reports(instances), DiscoveryJsonContext.Default.IReadOnlyListInstanceReport)
                : Problems.Result(StatusCodes.Status404NotFound, "unknown-service", "Unknown service",
                    $"No source knows the service '{name}'; GET /v1/services lists the known ones."));

        return endpoints;
    }

    internal static IReadOnlyList<InstanceReport> Reports(IReadOnlyList<ServiceInstance>? instances, bool upOnly = false)
    {
        if (instances is null)
        {
            return [];
        }

        var reports = new List<InstanceReport>(instances.Count);
        foreach (var instance in instances)
        {
            if (upOnly && instance.Status != InstanceStatus.Up)
            {
                continue;
            }

            reports.Add(new InstanceReport(instance.ServiceId, instance.InstanceId, instance.Host, instance.Port, instance.Secure,
                instance.BaseUri.AbsoluteUri.TrimEnd('/'), instance.Status.ToWire(), instance.Zone, instance.Metadata));
        }

        return reports;
    }

    private static ServicesReport Summary(ServiceCatalog catalog, EurekaRegistry? registry)
    {
        var services = new List<ServiceSummary>();
        foreach (var name in catalog.ServiceNames())
        {
            foreach (var source in catalog.Sources)
            {
                if (source.GetInstances(name) is { } instances)
                {
                    var up = 0;
                    foreach (var instance in instances)
                    {
                        up += instance.Status == InstanceStatus.Up ? 1 : 0;
                    }

                    services.Add(new ServiceSummary(name, source.Name, instances.Count, up));
                    break;
                }
            }
        }

        EurekaRegistryReport? eureka = null;
        if (registry is not null)
        {
            var view = registry.View;
            eureka = new EurekaRegistryReport(view.Origin.ToString().ToLowerInvariant(), view.Server,
                view.Origin == RegistryOrigin.None ? null : view.UpdatedAt, view.HashCode);
        }

        return new ServicesReport(services, eureka);
    }
}

using Sidecar.Configuration;
using Sidecar.Eureka;
using Sidecar.Platform;

namespace Sidecar.Health;

/// <summary>
/// The health routes. Every answer comes from the monitor's last probe: nothing here waits for
/// the app, so a hung app never hangs a kubelet probe or a load balancer.
/// </summary>
internal static class HealthApi
{
    // Prana's bodies and content type; Prana answered 200 for both, fixed here (docs/http-api.md#routes).
    private const string OkBody = "<health>ok</health>";
    private const string FailBody = "<health>fail</health>";

    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapMethods("/healthcheck", ListenerExtensions.GetAndHead, (AppHealthMonitor monitor) => monitor.Current.Status == InstanceStatus.Up
            ? TypedResults.Text(OkBody, "application/xml", statusCode: StatusCodes.Status200OK)
            : TypedResults.Text(FailBody, "application/xml", statusCode: StatusCodes.Status503ServiceUnavailable));

        endpoints.MapMethods("/v1/health", ListenerExtensions.GetAndHead, (AppHealthMonitor monitor, IEnumerable<IReadinessCheck> checks, SidecarOptions options) =>
            TypedResults.Json(Report(monitor, checks, options.Readiness), HealthJsonContext.Default.HealthReport));

        endpoints.MapMethods("/v1/health/live", ListenerExtensions.GetAndHead, () => TypedResults.Text("live", "text/plain"));

        endpoints.MapMethods("/v1/health/ready", ListenerExtensions.GetAndHead, (AppHealthMonitor monitor, IEnumerable<IReadinessCheck> checks, SidecarOptions options) =>
        {
            var report = Report(monitor, checks, options.Readiness);
            return TypedResults.Json(report, HealthJsonContext.Default.HealthReport,
                statusCode: report.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });

        return endpoints;
    }

    /// <param name="monitor">The app's health.</param>
    /// <param name="readinessChecks">The capabilities' checks.</param>
    /// <param name="required">The checks readiness requires (<c>SIDECAR_READINESS</c>); null for all.</param>
    internal static HealthReport Report(AppHealthMonitor monitor, IEnumerable<IReadinessCheck> readinessChecks, IReadOnlySet<string>? required = null)
    {
        var health = monitor.Current;
        var checks = new List<HealthCheckReport>
        {
            new("app", health.Status == InstanceStatus.Up, health.Status.ToWire(), required?.Contains("app") ?? true),
        };

        var registration = "disabled";
        foreach (var check in readinessChecks)
        {
            var result = check.Check();
            checks.Add(new HealthCheckReport(check.Name, result.Ready, result.Detail, required?.Contains(check.Name) ?? true));
            if (check.Name == RegistrationNames.ReadinessCheck)
            {
                registration = result.Detail;
            }
        }

        var ready = checks.TrueForAll(c => c.Ready || !c.Required);
        return new HealthReport(
            health.Status.ToWire(),
            health.Since,
            health.ProbeEnabled ? monitor.ProbeUrl : null,
            health.LastProbeTime,
            health.LastResult?.Detail,
            health.LastResult?.Duration.TotalMilliseconds,
            health.ConsecutiveFailures,
            registration,
            ready,
            checks,
            AgentIndexApi.Version,
            AgentIndexApi.Commit);
    }
}

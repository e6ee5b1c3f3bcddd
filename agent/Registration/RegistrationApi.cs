using Sidecar.Health;

namespace Sidecar.Registration;

internal static class RegistrationApi
{
    public static IServiceCollection AddRegistration(this IServiceCollection services)
    {
        services.AddSingleton<InstanceStatusProvider>();
        return services;
    }

    public static IEndpointRouteBuilder MapRegistrationApi(this IEndpointRouteBuilder endpoints)
    {
        // Prana's /status: {"status":"UP"}, the instance status as registered.
        endpoints.MapGet("/status", (InstanceStatusProvider status) =>
            TypedResults.Json(new StatusReport(status.Current.ToWire()), HealthJsonContext.Default.StatusReport));
        return endpoints;
    }
}

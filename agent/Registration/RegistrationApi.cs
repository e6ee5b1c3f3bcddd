using System.Text.Json;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Sidecar.Configuration;
using Sidecar.Eureka;
using Sidecar.Health;
using Sidecar.Platform;
using Sidecar.Observability;

namespace Sidecar.Registration;

internal static class RegistrationApi
{
    private const int MaxStatusBodyBytes = 4096;

    /// <summary>The error <see cref="ReadRequestedStatusAsync"/> gives for a body over <see cref="MaxStatusBodyBytes"/> (a 413, not a 400).</summary>
    internal const string TooLarge = "the body is too large";

    /// <summary>
    /// The instance status (always) and, in registered mode (<c>EUREKA_URLS</c> set), the Eureka
    /// client, the registration lifecycle and its <c>registration</c> readiness check. Safe to call twice.
    /// </summary>
    public static IServiceCollection AddRegistration(this IServiceCollection services, EurekaOptions eureka, AppOptions app, SidecarOptions sidecar, TimeSpan appGracePeriod)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<InstanceStatusProvider>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMetricsContributor, InstanceStatusFamilies>());
        if (!eureka.Enabled || services.Any(d => d.ServiceType == typeof(EurekaRegistrationService)))
        {
            return services;
        }

        services.TryAddSingleton<EurekaHttpClient>();
        services.TryAddSingleton<DataFolder>();
        services.TryAddSingleton(sp => new LocalInstance(app, eureka, sidecar, sp.GetService<InstanceContribution>()));
        services.AddSingleton<EurekaRegistrationService>();
        services.AddHostedService(sp => sp.GetRequiredService<EurekaRegistrationService>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMetricsContributor, LeaseFamilies>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMetricsContributor, EurekaFamilies>());
        services.AddSingleton<IReadinessCheck>(sp => sp.GetRequiredService<EurekaRegistrationService>());
        services.AddSingleton<AppAddressCheck>();
        services.AddHostedService(sp => sp.GetRequiredService<AppAddressCheck>());

        // The drain runs inside the host's shutdown: give it the drain, the supervised app's grace period,
        // and time to cancel the lease (3 attempts of up to the read time-out).
        var needed = sidecar.Drain + appGracePeriod + (3 * eureka.ReadTimeout) + TimeSpan.FromSeconds(5);
        services.Configure<HostOptions>(host =>
        {
            if (host.ShutdownTimeout < needed)
            {
                host.ShutdownTimeout = needed;
            }
        });
        return services;
    }

    public static IEndpointRouteBuilder MapRegistrationApi(this IEndpointRouteBuilder endpoints)
    {
        // Prana's /status: {"status":"UP"}, the instance status as registered (OUT_OF_SERVICE when the app or the drain says so).
        endpoints.MapMethods("/status", ListenerExtensions.GetAndHead, (InstanceStatusProvider status) =>
            TypedResults.Json(new StatusReport(status.Current.ToWire()), HealthJsonContext.Default.StatusReport));

        // The app takes itself out of rotation and back. Refused on the public health listener (UsePublicHealthGuard).
        endpoints.MapPut("/v1/registration/status", async (HttpContext context, InstanceStatusProvider status) =>
        {
            var (requested, error) = await ReadRequestedStatusAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
            if (error == TooLarge)
            {
                // docs/http-api.md#problems: 413 body-too-large. The body is never read past the cap, however large it is.
                return Problems.Result(StatusCodes.Status413PayloadTooLarge, "body-too-large", "Request body too large",
                    $"The body of PUT /v1/registration/status is at most {MaxStatusBodyBytes} bytes; send {{\"status\":\"OUT_OF_SERVICE\"}} or {{\"status\":\"UP\"}}");
            }

            if (requested is not { } outOfService)
            {
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid status",
                    error + "; send {\"status\":\"OUT_OF_SERVICE\"} or {\"status\":\"UP\"}");
            }

            if (status.Draining)
            {
                return Problems.Result(StatusCodes.Status409Conflict, "shutting-down", "The agent is shutting down",
                    "The instance stays OUT_OF_SERVICE until its lease is cancelled.");
            }

            status.SetAppOutOfService(outOfService);
            return TypedResults.Json(new StatusReport(status.Current.ToWire()), HealthJsonContext.Default.StatusReport);
        });
        return endpoints;
    }

    /// <summary>Reads <c>{"status":"OUT_OF_SERVICE"}</c> (true) or <c>{"status":"UP"}</c> (false), case-insensitive.</summary>
    internal static async Task<(bool? OutOfService, string Error)> ReadRequestedStatusAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxStatusBodyBytes)
        {
            return (null, TooLarge);
        }

        // A chunked body has no length to check first: Kestrel is told the cap, so that it stops there
        // (its read-ahead would otherwise decode up to the 1 MiB limit of the agent's routes, and fail at it).
        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxStatusBodyBytes + 1;
        }

        var buffer = new byte[MaxStatusBodyBytes + 1];
        var length = 0;
        int read;
        try
        {
            while (length < buffer.Length && (read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
            {
                length += read;
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge);
        }

        if (length > MaxStatusBodyBytes)
        {
            return (null, TooLarge);
        }

        if (length == 0)
        {
            return (null, "the body is empty");
        }

        try
        {
            using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
            if (document.RootElement.ValueKind != JsonValueKind.Object ||
                !document.RootElement.TryGetProperty("status", out var value) ||
                value.ValueKind != JsonValueKind.String)
            {
                return (null, "the body has no \"status\" string");
            }

            return value.GetString()?.Trim().ToUpperInvariant() switch
            {
                "OUT_OF_SERVICE" => (true, ""),
                "UP" => (false, ""),
                var other => (null, $"'{other}' is not a status the app can set"),
            };
        }
        catch (JsonException)
        {
            return (null, "the body is not JSON");
        }
        catch (InvalidOperationException)
        {
            // JsonDocument checks the structure only; GetString finds invalid UTF-8 inside the string.
            return (null, "the body is not valid UTF-8");
        }
    }
}

using System.Globalization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Sidecar.Configuration;
using Sidecar.Eureka;

namespace Sidecar.Actuator;

internal static class ActuatorExtensions
{
    /// <summary>
    /// The actuator's options and what it adds to the registered instance (docs/actuator.md#registration): metadata
    /// <c>management.port</c> and <c>management.context-path</c> (and <c>user.name</c>, <c>user.password</c> with
    /// Basic auth, Spring Boot Admin's convention), <c>healthCheckUrl</c> at its health, <c>statusPageUrl</c> at its info.
    /// </summary>
    public static IServiceCollection AddActuator(this IServiceCollection services, ActuatorOptions actuator, SidecarOptions sidecar)
    {
        services.TryAddSingleton(actuator);
        services.TryAddSingleton(Contribution(actuator, sidecar));
        return services;
    }

    /// <summary>The registration's part: on the port the health URLs already use (the public health listener's, else the API's).</summary>
    internal static InstanceContribution Contribution(ActuatorOptions actuator, SidecarOptions sidecar)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["management.port"] = (sidecar.PublicHealthPort ?? sidecar.Port).ToString(CultureInfo.InvariantCulture),
            ["management.context-path"] = actuator.BasePath,
        };
        if (actuator is { User: { } user, Password: { } password })
        {
            metadata["user.name"] = user;
            metadata["user.password"] = password;
        }

        return new InstanceContribution(metadata, actuator.BasePath + "/health", actuator.BasePath + "/info");
    }

    /// <summary>The health routes (<c>{base}/health</c> and under), which Spring Boot Admin polls every 10 s: probes, not logged by default.</summary>
    internal static bool IsProbe(ActuatorOptions options, string path) =>
        path.StartsWith(options.BasePath + "/health", StringComparison.OrdinalIgnoreCase) &&
        (path.Length == options.BasePath.Length + 7 || path[options.BasePath.Length + 7] == '/');

    /// <summary>
    /// True for a path the actuator serves with the endpoints exposed: the index, and the paths under an exposed
    /// endpoint's id. The public health listener lets these through (docs/operations.md#listeners-and-security-defaults).
    /// </summary>
    internal static bool Claims(ActuatorOptions options, string path)
    {
        var basePath = options.BasePath;
        if (!path.StartsWith(basePath, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var rest = path[basePath.Length..];
        if (rest.Length == 0 || rest == "/")
        {
            return true;
        }

        if (rest[0] != '/')
        {
            return false;
        }

        var end = rest.IndexOf('/', 1);
        var id = end < 0 ? rest[1..] : rest[1..end];
        return ActuatorOptions.Names.TryGetValue(id, out var endpoint) && options.IsExposed(endpoint);
    }
}

using Sidecar.Eureka;

namespace Sidecar.DevRegistry;

/// <summary>
/// What a registration body must carry (docs/eureka.md#server-rules-dev-registry-and-fake): Netflix's
/// <c>ApplicationResource.addInstance</c> checks, in its order and with its texts. No I/O.
/// </summary>
internal static class RegistrantValidator
{
    /// <summary>The 400 text for a registrant posted to <c>apps/{pathApp}</c>; null when it is accepted.</summary>
    public static string? Validate(string pathApp, EurekaInstanceInfo registrant)
    {
        if (string.IsNullOrWhiteSpace(registrant.Id))
        {
            return "Missing instanceId";
        }

        if (string.IsNullOrWhiteSpace(registrant.HostName))
        {
            return "Missing hostname";
        }

        if (string.IsNullOrWhiteSpace(registrant.IpAddr))
        {
            return "Missing ip address";
        }

        if (string.IsNullOrWhiteSpace(registrant.App))
        {
            return "Missing appName";
        }

        if (!string.Equals(pathApp, registrant.App, StringComparison.OrdinalIgnoreCase))
        {
            return $"Mismatched appName, expecting {pathApp.ToUpperInvariant()} but was {registrant.App}";
        }

        if (registrant.DataCenterClass is null && registrant.DataCenterName is null)
        {
            return "Missing dataCenterInfo";
        }

        return string.IsNullOrWhiteSpace(registrant.DataCenterName) ? "Missing dataCenterInfo Name" : null;
    }
}

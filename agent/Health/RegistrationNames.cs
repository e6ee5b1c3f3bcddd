namespace Sidecar.Health;

internal static class RegistrationNames
{
    /// <summary>The name of registration's readiness check; <c>/v1/health</c> shows its detail as <c>registration</c>.</summary>
    public const string ReadinessCheck = "registration";
}

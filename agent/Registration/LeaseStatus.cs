using Sidecar.Eureka;

namespace Sidecar.Registration;

/// <summary>What Eureka holds, or should hold, for this instance: its status, and whether an OUT_OF_SERVICE override is set.</summary>
/// <remarks>
/// An override is only ever OUT_OF_SERVICE (the app's <c>PUT /v1/registration/status</c>, an OUT_OF_SERVICE
/// health body, the drain): a server keeps it against a client's re-registration (Netflix's LeaseExistsRule),
/// so it is set and removed through the override API (docs/eureka.md#lifecycle).
/// </remarks>
internal sealed record LeaseStatus(InstanceStatus Status, bool Override)
{
    /// <summary>Out of service through the override API.</summary>
    public static readonly LeaseStatus OutOfService = new(InstanceStatus.OutOfService, true);

    /// <summary>The app's health, with no override.</summary>
    public static LeaseStatus Of(InstanceStatus health) => new(health, false);
}

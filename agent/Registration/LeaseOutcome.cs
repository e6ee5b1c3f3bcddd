using Sidecar.Eureka;

namespace Sidecar.Registration;

/// <summary>How a call came back, as the lease's rules need it.</summary>
internal enum LeaseAnswer
{
    /// <summary>2xx.</summary>
    Succeeded,

    /// <summary>404 from a server: it does not know the lease.</summary>
    NotFound,

    /// <summary>Every server failed, or another answer.</summary>
    Failed,
}

/// <summary>What came of one <see cref="LeaseAction"/>.</summary>
/// <param name="Answer">How it came back.</param>
/// <param name="Server">The server that answered (for logs).</param>
/// <param name="Error">A short text for logs and readiness: <c>connection refused</c>, <c>500 Internal Server Error</c>, <c>404</c>.</param>
internal sealed record LeaseOutcome(LeaseAnswer Answer, string Server, string Error)
{
    /// <summary>A read-back: the override the server holds (null when its answer was unreadable).</summary>
    public InstanceStatus? HeldOverride { get; init; }

    /// <summary>A <see cref="LeaseAction.ReadMarker"/>: this agent left the override.</summary>
    public bool LeftByThisAgent { get; init; }

    public static LeaseOutcome From(EurekaResponse response) => new(
        response.Succeeded ? LeaseAnswer.Succeeded : response.NotFound ? LeaseAnswer.NotFound : LeaseAnswer.Failed,
        response.Server?.Display ?? "",
        response.Describe());

    public static LeaseOutcome Marker(bool leftByThisAgent) => new(LeaseAnswer.Succeeded, "", "") { LeftByThisAgent = leftByThisAgent };
}

using Sidecar.Eureka;

namespace Sidecar.Registration;

/// <summary>What the lease loop does next, as <see cref="LeaseDecider"/> says: wait, or one call.</summary>
internal abstract record LeaseAction
{
    private LeaseAction()
    {
    }

    /// <summary>Nothing to send: look again at <paramref name="Until"/>, or sooner when the status changes.</summary>
    internal sealed record Wait(DateTimeOffset Until) : LeaseAction;

    /// <summary><c>POST apps/{APP}</c> with this status (and the override in the body): a first registration, one after a lost lease, or a health change.</summary>
    internal sealed record Register(LeaseStatus Status, long DirtyTimestamp) : LeaseAction;

    /// <summary><c>PUT apps/{APP}/{id}</c>; <paramref name="HeldUntil"/> is set when a status change waits meanwhile (for a token, or its retry).</summary>
    internal sealed record Renew(InstanceStatus Status, long DirtyTimestamp, DateTimeOffset? HeldUntil = null) : LeaseAction;

    /// <summary><c>PUT apps/{APP}/{id}/status?value=OUT_OF_SERVICE</c>.</summary>
    internal sealed record SetOverride(long DirtyTimestamp) : LeaseAction;

    /// <summary><c>DELETE apps/{APP}/{id}/status?value={Status}</c>.</summary>
    internal sealed record RemoveOverride(InstanceStatus Status, long DirtyTimestamp) : LeaseAction;

    /// <summary><c>GET apps/{APP}/{id}</c>, once per process after its first registration: for an override left from before the start.</summary>
    internal sealed record ReadBack : LeaseAction;

    /// <summary>Asks the marker file whether this agent left the override <paramref name="Held"/> that <paramref name="Server"/> holds.</summary>
    internal sealed record ReadMarker(InstanceStatus Held, string Server) : LeaseAction;

    /// <summary><c>DELETE apps/{APP}/{id}</c>.</summary>
    internal sealed record Cancel : LeaseAction;
}

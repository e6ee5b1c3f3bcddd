namespace Sidecar.Forwarding;

/// <summary>How an upgrade request (WebSocket) through the forwarder ended its handshake (docs/observability.md).</summary>
internal enum UpgradeOutcome
{
    /// <summary>The instance answered 101: the connection was upgraded and relayed.</summary>
    Upgraded,

    /// <summary>The instance answered something else (400, 426...), passed back as is.</summary>
    Declined,

    /// <summary>No instance, or none could be reached: the agent answered with its own problem.</summary>
    Failed,

    /// <summary>Refused because the agent is draining (SIGTERM).</summary>
    Draining,
}

/// <summary>The <c>outcome</c> label values, in <see cref="UpgradeOutcome"/> order.</summary>
internal static class UpgradeOutcomes
{
    public static readonly string[] Labels = ["upgraded", "declined", "failed", "draining"];
}

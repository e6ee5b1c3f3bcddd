using Sidecar.Eureka;
namespace Sidecar.Health;

/// <summary>The app's health as last probed: immutable, replaced as a whole on every probe.</summary>
/// <param name="Status">STARTING until the first success, UP, DOWN, or a status the app declared.</param>
/// <param name="Since">When <paramref name="Status"/> last changed.</param>
/// <param name="LastProbeTime">When the last probe finished; null before the first.</param>
/// <param name="LastResult">What the last probe saw; null before the first.</param>
/// <param name="ConsecutiveFailures">Failed probes in a row.</param>
/// <param name="ProbeEnabled">False when there is nothing to probe: the app is then always UP.</param>
internal sealed record AppHealthSnapshot(
    InstanceStatus Status,
    DateTimeOffset Since,
    DateTimeOffset? LastProbeTime,
    ProbeResult? LastResult,
    int ConsecutiveFailures,
    bool ProbeEnabled);

/// <summary>A change of the app's health status, published to registration and the log.</summary>
internal sealed class AppHealthChangedEventArgs(InstanceStatus previous, AppHealthSnapshot current) : EventArgs
{
    public InstanceStatus Previous { get; } = previous;

    public AppHealthSnapshot Current { get; } = current;
}

using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// The drain as upgraded connections see it (docs/forwarding.md#websocket-and-other-upgrades): from SIGTERM
/// (<see cref="IHostApplicationLifetime.ApplicationStopping"/>) no new upgrade is opened; the open ones
/// are closed when the drain is over (<see cref="ServingLifetime.Ending"/>), before the listener stops.
/// </summary>
internal sealed class UpgradeDrain(IHostApplicationLifetime? lifetime, ServingLifetime? serving)
{
    /// <summary>No host: never draining (a forwarder built by a unit test).</summary>
    public static readonly UpgradeDrain None = new(null, null);

    public bool Draining => lifetime is { } l && l.ApplicationStopping.IsCancellationRequested;

    /// <summary>Cancelled when the drain is over: the open upgraded connections close.</summary>
    public CancellationToken Ending => serving?.Ending ?? CancellationToken.None;
}

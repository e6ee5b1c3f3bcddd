namespace Sidecar.Health;

/// <summary>Asks the app once whether it is healthy. Implementations never throw for the app's failures.</summary>
internal interface IAppHealthProbe
{
    /// <param name="cancellationToken">Cancelled at the probe time-out or at shutdown.</param>
    public Task<ProbeResult> ProbeAsync(CancellationToken cancellationToken);
}

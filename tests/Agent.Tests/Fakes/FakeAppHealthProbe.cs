using Sidecar.Health;

namespace Sidecar.Tests.Fakes;

/// <summary>An app health probe the test sets: healthy or not, answered at once.</summary>
internal sealed class FakeAppHealthProbe : IAppHealthProbe
{
    private volatile bool _healthy;

    public FakeAppHealthProbe(bool healthy = true) => _healthy = healthy;

    public bool Healthy
    {
        get => _healthy;
        set => _healthy = value;
    }

    public Task<ProbeResult> ProbeAsync(CancellationToken cancellationToken) => Task.FromResult(_healthy
        ? new ProbeResult(true, null, 200, "200 OK", TimeSpan.FromMilliseconds(1))
        : ProbeResult.Failure("503 Service Unavailable", TimeSpan.FromMilliseconds(1), 503));
}

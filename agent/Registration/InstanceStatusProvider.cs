using Sidecar.Eureka;
using Sidecar.Health;

namespace Sidecar.Registration;

/// <summary>
/// The status this instance reports on <c>/status</c> and to Eureka: OUT_OF_SERVICE while the app
/// has taken itself out (<c>PUT /v1/registration/status</c>) or the agent is draining at shutdown;
/// otherwise the app's health. A healthy probe never ends an OUT_OF_SERVICE the app set
/// (docs/eureka.md#timing-and-failover, health to status).
/// </summary>
internal sealed class InstanceStatusProvider(AppHealthMonitor health)
{
    private volatile bool _appOutOfService;
    private volatile bool _draining;

    /// <summary>Raised when the app's own override or the drain changes (health changes come from <see cref="AppHealthMonitor.StatusChanged"/>).</summary>
    public event EventHandler? Changed;

    /// <summary>The effective status.</summary>
    public InstanceStatus Current => IsOutOfService ? InstanceStatus.OutOfService : health.Current.Status;

    /// <summary>True when the status is held at OUT_OF_SERVICE whatever the probes say: the app asked for it, declared it in its health body, or the agent is draining.</summary>
    public bool IsOutOfService => _appOutOfService || _draining || health.Current.Status == InstanceStatus.OutOfService;

    /// <summary>The app's health as last probed.</summary>
    public InstanceStatus Health => health.Current.Status;

    /// <summary>The app took itself out of rotation.</summary>
    public bool AppOutOfService => _appOutOfService;

    /// <summary>The agent is shutting down: OUT_OF_SERVICE until the lease is cancelled.</summary>
    public bool Draining => _draining;

    /// <summary>Sets or clears the app's own OUT_OF_SERVICE; true when that changed anything.</summary>
    public bool SetAppOutOfService(bool outOfService)
    {
        if (_appOutOfService == outOfService)
        {
            return false;
        }

        _appOutOfService = outOfService;
        Changed?.Invoke(this, EventArgs.Empty);
        return true;
    }

    public void BeginDrain()
    {
        if (_draining)
        {
            return;
        }

        _draining = true;
        Changed?.Invoke(this, EventArgs.Empty);
    }
}

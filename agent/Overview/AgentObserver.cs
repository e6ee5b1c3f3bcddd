using Sidecar.AppConfig;
using Sidecar.Forwarding;
using Sidecar.Health;
using Sidecar.Observability;
using Sidecar.Registration;
using Sidecar.Eureka;

namespace Sidecar.Overview;

/// <summary>
/// Turns what the other capabilities publish into metrics and events, so they need no hook of
/// their own: health changes and probes (<see cref="AppHealthMonitor"/> events), the app's own
/// OUT_OF_SERVICE (<see cref="InstanceStatusProvider.Changed"/>), config versions (each snapshot's
/// <see cref="AppConfigSnapshot.Superseded"/>); and it samples the instances' error rates.
/// </summary>
internal sealed partial class AgentObserver : BackgroundService
{
    private readonly AppHealthMonitor _monitor;
    private readonly InstanceStatusProvider _status;
    private readonly AppConfigStore _configStore;
    private readonly HealthMetrics _health;
    private readonly ConfigMetrics _config;
    private readonly AgentEventLog _events;
    private readonly InstanceErrorRates _rates;
    private readonly TimeProvider _time;
    private readonly ILogger<AgentObserver> _logger;
    private bool _appOutOfService;

    public AgentObserver(
        AppHealthMonitor monitor,
        InstanceStatusProvider status,
        AppConfigStore configStore,
        HealthMetrics health,
        ConfigMetrics config,
        AgentEventLog events,
        InstanceErrorRates rates,
        TimeProvider time,
        ILogger<AgentObserver> logger)
    {
        _monitor = monitor;
        _status = status;
        _configStore = configStore;
        _health = health;
        _config = config;
        _events = events;
        _rates = rates;
        _time = time;
        _logger = logger;
        monitor.StatusChanged += OnHealthChanged;
        monitor.ProbeCompleted += OnProbe;
        status.Changed += OnInstanceStatusChanged;
    }

    public override void Dispose()
    {
        _monitor.StatusChanged -= OnHealthChanged;
        _monitor.ProbeCompleted -= OnProbe;
        _status.Changed -= OnInstanceStatusChanged;
        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(WatchConfigAsync(stoppingToken), SampleErrorRatesAsync(stoppingToken));

    private async Task WatchConfigAsync(CancellationToken stoppingToken)
    {
        AppConfigSnapshot? previous = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var current = _configStore.Current;
                if (!ReferenceEquals(current, previous))
                {
                    _config.Serving(current.Version, _time.GetUtcNow());
                    if (current.Version > 0)
                    {
                        _events.Add(AgentEventKind.Config, Describe(previous, current));
                    }

                    previous = current;
                }

                await current.Superseded.WaitAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutting down
        }
    }

    private async Task SampleErrorRatesAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    _rates.Sample();
                }
#pragma warning disable CA1031 // sampling is best effort: it must never stop
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    LogSampleFailed(_logger, ex);
                }

                await Task.Delay(InstanceErrorRates.Period, _time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutting down
        }
    }

    // Key names only, never values (docs/config-server.md#values-and-the-log).
    private static string Describe(AppConfigSnapshot? previous, AppConfigSnapshot current)
    {
        if (previous is null || previous.Version == 0)
        {
            return $"Config version {current.Version} served: {current.Values.Count} keys";
        }

        var change = AppConfigChange.Between(previous, current);
        return $"Config version {change.PreviousVersion} -> {change.Version}: " +
               $"{Names("added", change.Added)}{Names("changed", change.Changed)}{Names("removed", change.Removed)}".TrimEnd(' ', ';');
    }

    private static string Names(string what, IReadOnlyList<string> keys) => keys.Count switch
    {
        0 => "",
        <= 10 => $"{what} {string.Join(", ", keys)}; ",
        _ => $"{what} {string.Join(", ", keys.Take(10))} and {keys.Count - 10} more; ",
    };

    private void OnHealthChanged(object? sender, AppHealthChangedEventArgs e) =>
        _events.Add(AgentEventKind.Health,
            $"App health {e.Previous.ToWire()} -> {e.Current.Status.ToWire()}" + (e.Current.LastResult is { } r ? $" ({r.Detail})" : ""));

    private void OnProbe(object? sender, ProbeRecord probe) => _health.Probed(probe.Result);

    private void OnInstanceStatusChanged(object? sender, EventArgs e)
    {
        var outOfService = _status.AppOutOfService;
        if (outOfService != _appOutOfService)
        {
            _appOutOfService = outOfService;
            _events.Add(AgentEventKind.Registration, outOfService
                ? "The app took itself out of rotation (OUT_OF_SERVICE)"
                : "The app put itself back into rotation");
        }
    }

    [LoggerMessage(EventId = 700, Level = LogLevel.Warning, Message = "Sampling instance error rates failed; trying again")]
    private static partial void LogSampleFailed(ILogger logger, Exception exception);
}

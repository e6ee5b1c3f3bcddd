using System.Text.Json;
using static Sidecar.Registration.LeaseAction;
using Sidecar.Configuration;
using Sidecar.Eureka;
using Sidecar.Health;
using Sidecar.Observability;
using Sidecar.Platform;

namespace Sidecar.Registration;

/// <summary>
/// Keeps this instance registered in Eureka (docs/eureka.md#lifecycle): the loop that performs what
/// <see cref="LeaseDecider"/> decides (the calls through <see cref="EurekaHttpClient"/>, the timers, the log
/// lines, the events, the marker file of <see cref="OwnOverrideMarker"/>). On shutdown: OUT_OF_SERVICE, the
/// drain (the agent keeps serving: this runs in <see cref="StoppingAsync"/>, before Kestrel stops), then the
/// cancel. Every call for this instance goes through one gate, so status changes, renewals and the
/// shutdown never interleave on the wire; the state is one immutable <see cref="LeaseState"/>, replaced
/// under the gate and read anywhere.
/// </summary>
internal sealed partial class EurekaRegistrationService : BackgroundService, IHostedLifecycleService, IReadinessCheck
{
    /// <summary>How long a Eureka server may keep answering from its read-only response cache (Netflix's responseCacheUpdateIntervalMs).</summary>
    internal static readonly TimeSpan ServerResponseCache = TimeSpan.FromSeconds(30);

    private readonly EurekaOptions _options;
    private readonly TimeSpan _drain;
    private readonly LocalInstance _instance;
    private readonly EurekaHttpClient _client;
    private readonly InstanceStatusProvider _status;
    private readonly AppHealthMonitor _health;
    private readonly AgentExit _exit;
    private readonly TimeProvider _time;
    private readonly ILogger<EurekaRegistrationService> _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly AsyncSignal _wake = new();
    private readonly AgentEventLog? _events;
    private readonly OwnOverrideMarker _marker;
    private readonly LeaseDecider _decider;
    private readonly LeaseReporter _reporter;
    private volatile LeaseState _state; // replaced under _gate only

    public EurekaRegistrationService(
        EurekaOptions options,
        SidecarOptions sidecar,
        LocalInstance instance,
        EurekaHttpClient client,
        InstanceStatusProvider status,
        AppHealthMonitor health,
        AgentExit exit,
        TimeProvider time,
        ILogger<EurekaRegistrationService> logger,
        AgentEventLog? events = null,
        DataFolder? dataFolder = null)
    {
        _events = events;
        _exit = exit;
        _options = options;
        _drain = sidecar.Drain;
        _instance = instance;
        _client = client;
        _status = status;
        _health = health;
        _time = time;
        _logger = logger;
        _decider = new LeaseDecider(options.RenewInterval, sidecar.Drain);
        _state = LeaseDecider.Initial(
            new StatusUpdateRateLimiter(options.StatusUpdateBurst, options.StatusUpdatesPerMinute, time.GetUtcNow()),
            "registering with " + string.Join(", ", client.Endpoints.Select(e => e.Display)));
        _marker = new OwnOverrideMarker(Path.Combine(sidecar.DataDir, OwnOverrideMarker.FileName), logger, dataFolder);
        _reporter = new LeaseReporter(instance.EurekaAppName, instance.InstanceId, _marker, logger, events);
        _health.StatusChanged += OnStatusChanged;
        _status.Changed += OnStatusChanged;
    }

    public string Name => RegistrationNames.ReadinessCheck;

    /// <summary>True once Eureka accepted this instance; stays true while Eureka is down, so an outage of Eureka never makes the whole fleet unready.</summary>
    public bool EverRegistered => _state.EverRegistered;

    /// <summary>When Eureka last accepted a registration or a renewal of this instance; null before the first.</summary>
    public DateTimeOffset? LastHeartbeat => _state.LastHeartbeat;

    /// <summary>The status Eureka was last told (and accepted); null before the first and after the cancel.</summary>
    public InstanceStatus? ReportedStatus => _state.Accepted;

    /// <summary>The app name and instance id registered.</summary>
    public string InstanceId => _instance.InstanceId;

    public string AppName => _instance.EurekaAppName;

    public ReadinessResult Check()
    {
        var state = _state;
        if (state.Deregistered)
        {
            return new ReadinessResult(false, "deregistered");
        }

        // Draining: callers are being moved away, so the kubelet should move them too.
        return _status.Draining ? new ReadinessResult(false, "draining: OUT_OF_SERVICE in Eureka") : state.Readiness;
    }

    /// <summary>Says at start when the drain is shorter than what callers need to stop calling (docs/operations.md#timing).</summary>
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        var needed = ServerResponseCache + _options.FetchInterval;
        if (_drain > TimeSpan.Zero && _drain < needed)
        {
            LogDrainTooShort(_logger, DurationParser.Format(_drain), DurationParser.Format(needed), DurationParser.Format(_options.FetchInterval));
        }

        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>SIGTERM, step 1 and 2: OUT_OF_SERVICE reaches Eureka, then the drain, while the agent still serves and forwards.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (_state.Deregistered)
        {
            return; // a second stop of the host: the lease is already gone
        }

        _status.BeginDrain();
        DrainPlan plan;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Under the gate: a registration whose answer is on its way when SIGTERM comes counts.
            await PerformAsync(_decider.BeginStop(_state, Input(), _exit.SkipDrain), cancellationToken).ConfigureAwait(false);
            (var state, plan) = _decider.PlanDrain(_state, _time.GetUtcNow());
            _state = state;
        }
        finally
        {
            _gate.Release();
        }

        if (!plan.Drains)
        {
            return;
        }

        if (plan.Already > TimeSpan.Zero)
        {
            var already = DurationParser.Format(plan.Already);
            if (plan.Remaining <= TimeSpan.Zero)
            {
                LogDrainAlreadyDone(_logger, already);
                return;
            }

            LogDrainShortened(_logger, already, DurationParser.Format(plan.Remaining));
        }

        var drain = DurationParser.Format(plan.Remaining);
        if (plan.InEureka)
        {
            LogDraining(_logger, drain);
            _events?.Add(AgentEventKind.Registration, $"Draining for {drain}: OUT_OF_SERVICE in Eureka, still serving");
        }
        else
        {
            // Every server failed (or the lease is not known to exist); the loop retries while the drain lasts, and says so.
            LogDrainingNotInEureka(_logger, drain, plan.Why);
            _events?.Add(AgentEventKind.Registration, $"Draining for {drain}, still serving; OUT_OF_SERVICE has not reached Eureka ({plan.Why})");
        }

        try
        {
            await Task.Delay(plan.Remaining, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown time-out came first: cancel the lease now.
        }
    }

    /// <summary>SIGTERM, step 3: the loop stops, then the lease is cancelled.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await PerformAsync(LeaseDecider.Cancel(_state, _time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Dispose()
    {
        _health.StatusChanged -= OnStatusChanged;
        _status.Changed -= OnStatusChanged;
        _gate.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            _wake.Reset();
            DateTimeOffset wakeAt;
            try
            {
                await _gate.WaitAsync(stoppingToken).ConfigureAwait(false);
                try
                {
                    wakeAt = await PerformAsync(LeaseDecider.Next(_state, Input()), stoppingToken).ConfigureAwait(false);
                }
                finally
                {
                    _gate.Release();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
#pragma warning disable CA1031 // the loop must outlive any surprise: log it and try again later
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogLoopFailed(_logger, ex);
                wakeAt = _time.GetUtcNow() + _options.RenewInterval;
            }

            try
            {
                await WaitAsync(wakeAt, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
        }
    }

    /// <summary>Performs a decision, and the ones that follow from its answers, until one says to wait; under the gate.</summary>
    private async Task<DateTimeOffset> PerformAsync(LeaseDecision decision, CancellationToken cancellationToken)
    {
        Publish(decision);
        while (true)
        {
            if (decision.Action is Wait wait)
            {
                return wait.Until;
            }

            var outcome = await CallAsync(decision.Action, cancellationToken).ConfigureAwait(false);
            decision = _decider.Apply(decision.State, decision.Action, outcome, Input());
            Publish(decision);
        }
    }

    private async Task<LeaseOutcome> CallAsync(LeaseAction action, CancellationToken cancellationToken)
    {
        var app = _instance.EurekaAppName;
        var id = _instance.InstanceId;
        switch (action)
        {
            case Register register:
                var overridden = register.Status.Override ? InstanceStatus.OutOfService : InstanceStatus.Unknown;
                var body = _instance.ToInstanceInfo(register.Status.Status, overridden, register.DirtyTimestamp);
                return LeaseOutcome.From(await _client.RegisterAsync(body, cancellationToken).ConfigureAwait(false));
            case Renew renew:
                return LeaseOutcome.From(await _client.RenewAsync(app, id, renew.Status, renew.DirtyTimestamp, cancellationToken).ConfigureAwait(false));
            case SetOverride set:
                return LeaseOutcome.From(await _client.UpdateStatusAsync(app, id, InstanceStatus.OutOfService, set.DirtyTimestamp, cancellationToken).ConfigureAwait(false));
            case RemoveOverride remove:
                return LeaseOutcome.From(await _client.DeleteStatusOverrideAsync(app, id, remove.Status, remove.DirtyTimestamp, cancellationToken).ConfigureAwait(false));
            case ReadBack:
                var response = await _client.GetInstanceAsync(app, id, cancellationToken).ConfigureAwait(false);
                return LeaseOutcome.From(response) with { HeldOverride = response.Succeeded ? OverrideIn(response.Body) : null };
            case ReadMarker:
                return LeaseOutcome.Marker(_marker.LeftBy(app, id));
            case LeaseAction.Cancel:
                return LeaseOutcome.From(await _client.CancelAsync(app, id, cancellationToken).ConfigureAwait(false));
            default:
                throw new ArgumentOutOfRangeException(nameof(action), action, "not a call");
        }
    }

    /// <summary>The override a server holds, from its answer to <c>GET apps/{app}/{id}</c> (<c>{"instance":{...}}</c>); null when unreadable.</summary>
    internal static InstanceStatus? OverrideIn(ReadOnlyMemory<byte> body)
    {
        try
        {
            return EurekaJsonReader.ReadInstanceBody(body).OverriddenStatus;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void Publish(LeaseDecision decision)
    {
        var before = _state;
        _state = decision.State;
        _reporter.Say(decision.Notes, before, decision.State);
    }

    private LeaseInput Input() => new(
        _status.IsOutOfService ? LeaseStatus.OutOfService : LeaseStatus.Of(_status.Health),
        _status.Draining,
        _time.GetUtcNow());

    private async Task WaitAsync(DateTimeOffset wakeAt, CancellationToken cancellationToken)
    {
        var delay = wakeAt - _time.GetUtcNow();
        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delayTask = Task.Delay(delay > TimeSpan.FromDays(1) ? TimeSpan.FromDays(1) : delay, _time, timer.Token);
        await Task.WhenAny(delayTask, _wake.WaitAsync()).ConfigureAwait(false);
        await timer.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private void OnStatusChanged(object? sender, EventArgs e) => _wake.Set();

    [LoggerMessage(EventId = 215, Level = LogLevel.Information, Message = "Draining for {Drain}: OUT_OF_SERVICE in Eureka, still serving")]
    private static partial void LogDraining(ILogger logger, string drain);

    [LoggerMessage(EventId = 220, Level = LogLevel.Warning, Message = "Draining for {Drain}, still serving; OUT_OF_SERVICE has not reached Eureka ({Error})")]
    private static partial void LogDrainingNotInEureka(ILogger logger, string drain, string error);

    [LoggerMessage(EventId = 223, Level = LogLevel.Warning, Message = "SIDECAR_DRAIN={Drain} is shorter than callers may keep calling this instance after it leaves: up to {Needed} (Eureka's response cache 30s + a fetch interval of {Fetch}); see docs/operations.md")]
    private static partial void LogDrainTooShort(ILogger logger, string drain, string needed, string fetch);

    [LoggerMessage(EventId = 224, Level = LogLevel.Information, Message = "OUT_OF_SERVICE in Eureka for {Already} already: the drain is over, cancelling the lease")]
    private static partial void LogDrainAlreadyDone(ILogger logger, string already);

    [LoggerMessage(EventId = 225, Level = LogLevel.Information, Message = "OUT_OF_SERVICE in Eureka for {Already} already: draining for the remaining {Remaining}")]
    private static partial void LogDrainShortened(ILogger logger, string already, string remaining);

    [LoggerMessage(EventId = 218, Level = LogLevel.Error, Message = "Registration loop failed; trying again at the next renew")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}

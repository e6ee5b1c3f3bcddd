using System.Text.Json;
using Sidecar.Configuration;
using Sidecar.Discovery;
using Sidecar.Health;
using Sidecar.Hosting;
using Sidecar.Observability;

namespace Sidecar.Registration;

/// <summary>
/// Keeps this instance registered in Eureka (docs/eureka.md#lifecycle):
/// <list type="bullet">
/// <item>registers at start, STARTING until the app's first healthy probe (UP at once without a probe);</item>
/// <item>renews every <see cref="EurekaOptions.RenewInterval"/>; a renew answered 404, or failed on
/// every server, registers again (backing off from 1 s to the renew interval while every server fails);</item>
/// <item>sends every health change at once by re-registering (Steeltoe v4 and Netflix do the same),
/// rate-limited by <see cref="StatusUpdateRateLimiter"/>, as are the app's own status changes (Netflix's
/// InstanceInfoReplicator limits both); the drain's OUT_OF_SERVICE alone goes at once;</item>
/// <item>sends OUT_OF_SERVICE (the app's own, or the drain's) through the override API, because a
/// server keeps an existing UP or OUT_OF_SERVICE against a client's re-registration (Netflix's
/// LeaseExistsRule), and removes the override the same way;</item>
/// <item>after the first registration of this process, reads the instance back and removes an
/// OUT_OF_SERVICE override that an earlier run of this agent left (the app's, or a drain killed before
/// its cancel; remembered by <see cref="OwnOverrideMarker"/>): renewals would otherwise keep it for ever.
/// An override the agent did not set is an operator's: it stays, with a warning;</item>
/// <item>on shutdown: OUT_OF_SERVICE, the drain (the agent keeps serving: this runs in
/// <see cref="StoppingAsync"/>, before Kestrel stops), then cancels the lease.</item>
/// </list>
/// Every call for this instance goes through one gate, so status changes, renewals and the shutdown
/// never interleave on the wire.
/// </summary>
internal sealed partial class EurekaRegistrationService : BackgroundService, IHostedLifecycleService, IReadinessCheck
{
    /// <summary>How long a Eureka server may keep answering from its read-only response cache (Netflix's responseCacheUpdateIntervalMs).</summary>
    internal static readonly TimeSpan ServerResponseCache = TimeSpan.FromSeconds(30);

    private const int MaxReadBackAttempts = 5; // 1 + 2 + 4 + 8 s apart (at most a renew interval): an outage right after the start does not end it
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(1);

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
    private readonly StatusUpdateRateLimiter _limiter;
    private readonly AgentEventLog? _events;
    private readonly OwnOverrideMarker _marker;

    // Guarded by _gate.
    private Reported? _reported; // what Eureka was last told; null while the lease is not known to exist
    private long _lastDirtyTimestamp;
    private DateTimeOffset _nextRenew;
    private DateTimeOffset _retryAt;
    private TimeSpan _retryDelay = FirstRetryDelay;
    private bool _cancelled;
    private bool _readBack; // the instance was read back after this process's first registration (or that was given up)
    private int _readBackFailures;
    private DateTimeOffset _readBackAt; // when the next read-back attempt may go (after a failed one)
    private DateTimeOffset? _stopsAt; // shutting down: when the lease will be cancelled (a retry after it never happens)
    private string? _lastFailure; // why the last call failed on every server, for the drain's log line
    private InstanceStatus? _heldStatus; // the health change waiting for a token, once logged
    private DateTimeOffset? _outOfServiceSince; // since when Eureka holds OUT_OF_SERVICE for this instance: the drain counts from then

    private readonly Lock _readinessLock = new();
    private ReadinessResult _readiness;
    private volatile bool _everRegistered;
    private volatile bool _deregistered;
    private DateTimeOffset? _lastHeartbeat;
    private InstanceStatus? _reportedStatus;

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
        _limiter = new StatusUpdateRateLimiter(options.StatusUpdateBurst, options.StatusUpdatesPerMinute, time);
        _marker = new OwnOverrideMarker(Path.Combine(sidecar.DataDir, OwnOverrideMarker.FileName), logger, dataFolder);
        _readiness = new ReadinessResult(false, "registering with " + string.Join(", ", client.Endpoints.Select(e => e.Display)));
        _health.StatusChanged += OnStatusChanged;
        _status.Changed += OnStatusChanged;
    }

    public string Name => RegistrationNames.ReadinessCheck;

    /// <summary>True once Eureka accepted this instance; stays true while Eureka is down, so an outage of Eureka never makes the whole fleet unready.</summary>
    public bool EverRegistered => _everRegistered;

    /// <summary>When Eureka last accepted a registration or a renewal of this instance; null before the first.</summary>
    public DateTimeOffset? LastHeartbeat
    {
        get
        {
            lock (_readinessLock)
            {
                return _lastHeartbeat;
            }
        }
    }

    /// <summary>The status Eureka was last told (and accepted); null while the lease is not known to exist.</summary>
    public InstanceStatus? ReportedStatus
    {
        get
        {
            lock (_readinessLock)
            {
                return _reportedStatus;
            }
        }
    }

    /// <summary>The app name and instance id registered.</summary>
    public string InstanceId => _instance.InstanceId;

    public string AppName => _instance.EurekaAppName;

    public ReadinessResult Check()
    {
        if (_deregistered)
        {
            return new ReadinessResult(false, "deregistered");
        }

        // Draining: callers are being moved away, so the kubelet should move them too.
        if (_status.Draining)
        {
            return new ReadinessResult(false, "draining: OUT_OF_SERVICE in Eureka");
        }

        lock (_readinessLock)
        {
            return _readiness;
        }
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
        if (_deregistered)
        {
            return; // a second stop of the host: the lease is already gone
        }

        _status.BeginDrain();
        bool inEureka;
        bool drains;
        var remaining = _drain;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // No drain when nobody ever found us, when the supervised app is already gone (nothing left to
            // drain for), or when the agent never finished starting (nothing was served through it). Decided
            // under the gate: a registration whose answer is on its way when SIGTERM comes counts.
            drains = _everRegistered && _drain > TimeSpan.Zero && !_exit.SkipDrain;
            // Only the app's own OUT_OF_SERVICE counts, from before this stop (TrackOverride).
            var before = _outOfServiceSince;
            _stopsAt = _time.GetUtcNow() + (drains ? _drain : TimeSpan.Zero); // a failure now is not retried past it
            if (_reported is not null)
            {
                await SyncStatusAsync(cancellationToken).ConfigureAwait(false);
            }

            inEureka = _reported is { Override: true };
            if (inEureka && before is { } since)
            {
                // The app went OUT_OF_SERVICE before (its preStop's PUT /v1/registration/status, or its health):
                // callers have been moving away since then, so only the rest of the drain is left.
                remaining = _drain - (_time.GetUtcNow() - since);
            }

            _stopsAt = _time.GetUtcNow() + (drains && remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
        }
        finally
        {
            _gate.Release();
        }

        if (!drains)
        {
            return;
        }

        if (remaining < _drain)
        {
            var already = DurationParser.Format(_drain - remaining);
            if (remaining <= TimeSpan.Zero)
            {
                LogDrainAlreadyDone(_logger, already);
                return;
            }

            LogDrainShortened(_logger, already, DurationParser.Format(remaining));
        }

        var drain = DurationParser.Format(remaining);
        if (inEureka)
        {
            LogDraining(_logger, drain);
            _events?.Add(AgentEventKind.Registration, $"Draining for {drain}: OUT_OF_SERVICE in Eureka, still serving");
        }
        else
        {
            // Every server failed (or the lease is not known to exist); the loop retries while the drain lasts, and says so.
            var why = _lastFailure ?? "not registered";
            LogDrainingNotInEureka(_logger, drain, why);
            _events?.Add(AgentEventKind.Registration, $"Draining for {drain}, still serving; OUT_OF_SERVICE has not reached Eureka ({why})");
        }

        try
        {
            await Task.Delay(remaining, _time, cancellationToken).ConfigureAwait(false);
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
            if (!_everRegistered || _cancelled)
            {
                return;
            }

            _cancelled = true;
            var response = await _client.CancelAsync(_instance.EurekaAppName, _instance.InstanceId, cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                LogCancelled(_logger, _instance.EurekaAppName, _instance.InstanceId, response.Server!.Display);
                _marker.Forget(); // a cancelled lease takes its override with it (Netflix's internalCancel)
            }
            else
            {
                LogCancelFailed(_logger, _instance.EurekaAppName, _instance.InstanceId, response.Describe());
            }

            _reported = null;
            TrackOverride();
            _deregistered = true;
            lock (_readinessLock)
            {
                _reportedStatus = null;
            }

            _events?.Add(AgentEventKind.Registration, response.Succeeded
                ? $"Lease of {_instance.EurekaAppName}/{_instance.InstanceId} cancelled"
                : $"Could not cancel the lease of {_instance.EurekaAppName}/{_instance.InstanceId}: {response.Describe()}");
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
        _nextRenew = _time.GetUtcNow();
        _retryAt = _nextRenew;
        while (!stoppingToken.IsCancellationRequested)
        {
            _wake.Reset();
            DateTimeOffset wakeAt;
            try
            {
                await _gate.WaitAsync(stoppingToken).ConfigureAwait(false);
                try
                {
                    wakeAt = await StepAsync(stoppingToken).ConfigureAwait(false);
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

    /// <summary>One round: register, send a status change, or renew, whichever is due; returns when to look again.</summary>
    private async Task<DateTimeOffset> StepAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (_reported is null)
        {
            if (now < _retryAt)
            {
                return _retryAt;
            }

            if (await RegisterAsync(Desired(), cancellationToken).ConfigureAwait(false))
            {
                return _time.GetUtcNow(); // look again at once: the status may have moved meanwhile
            }

            return _retryAt;
        }

        if (Desired() != _reported)
        {
            var heldUntil = now < _retryAt ? _retryAt : await SyncStatusAsync(cancellationToken).ConfigureAwait(false);
            if (heldUntil is null)
            {
                return _time.GetUtcNow(); // sent, or failed with the retry time set: look again at once
            }

            // The change waits (for a token, or for the retry after a failure); the lease must not, or
            // Eureka evicts the instance meanwhile, and a renew time already past would make this loop spin.
            if (_time.GetUtcNow() >= _nextRenew)
            {
                await RenewAsync(cancellationToken).ConfigureAwait(false);
                if (_reported is null)
                {
                    return _retryAt;
                }
            }

            return Earliest(heldUntil.Value, _nextRenew);
        }

        _heldStatus = null; // nothing waits for a token now: the next hold is logged again

        // After status changes, on a schedule of its own: the read-back never holds up a change or a renewal.
        if (!_readBack && now >= _readBackAt)
        {
            await ReadBackAsync(cancellationToken).ConfigureAwait(false);
            return _reported is null ? _retryAt : _time.GetUtcNow();
        }

        if (now >= _nextRenew)
        {
            await RenewAsync(cancellationToken).ConfigureAwait(false);
            return _reported is null ? _retryAt : _nextRenew;
        }

        return _readBack ? _nextRenew : Earliest(_readBackAt, _nextRenew);
    }

    private async Task<bool> RegisterAsync(Reported desired, CancellationToken cancellationToken)
    {
        var dirty = NextDirtyTimestamp();
        var overridden = desired.Override ? InstanceStatus.OutOfService : InstanceStatus.Unknown;
        var body = _instance.ToInstanceInfo(desired.Status, overridden, dirty);
        var response = await _client.RegisterAsync(body, cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            Failed("register", response);
            return false;
        }

        if (desired.Override)
        {
            _marker.Remember(_instance.EurekaAppName, _instance.InstanceId); // the server takes the body's override when it holds none
        }

        // A re-registration never removes an override the server holds: remember it, so the next round deletes it.
        var keptOverride = _reported is { Override: true } && !desired.Override;
        _reported = keptOverride ? new Reported(InstanceStatus.OutOfService, true) : desired;
        TrackOverride();
        _lastDirtyTimestamp = dirty;
        _nextRenew = _time.GetUtcNow() + _options.RenewInterval;
        _retryDelay = FirstRetryDelay;
        _retryAt = DateTimeOffset.MinValue;
        _everRegistered = true;
        LogRegistered(_logger, _instance.EurekaAppName, _instance.InstanceId, response.Server!.Display, desired.Status.ToWire());
        Registered(response);
        return true;
    }

    /// <summary>
    /// Once per process, after its first registration: a server keeps an OUT_OF_SERVICE override
    /// against a re-registration (LeaseExistsRule), so one left by a previous run with this instance id
    /// (its app's PUT /v1/registration/status, or a drain cut short by SIGKILL before the cancel) would
    /// outlive this start, renewed for ever while the agent reports UP. Marking it as reported makes the
    /// next round remove it, as for an override of our own.
    /// </summary>
    private async Task ReadBackAsync(CancellationToken cancellationToken)
    {
        var response = await _client.GetInstanceAsync(_instance.EurekaAppName, _instance.InstanceId, cancellationToken).ConfigureAwait(false);
        if (response.NotFound)
        {
            LogLeaseUnknown(_logger, "read-back", response.Server!.Display);
            _reported = null;
            TrackOverride();
            _retryAt = DateTimeOffset.MinValue;
            return;
        }

        if (!response.Succeeded)
        {
            // A server that refuses the read (a proxy's 403, say) must not cost a failure every renew for ever.
            if (++_readBackFailures >= MaxReadBackAttempts)
            {
                _readBack = true;
                LogReadBackGivenUp(_logger, _instance.EurekaAppName, _instance.InstanceId, MaxReadBackAttempts, response.Describe());
                return;
            }

            var delay = TimeSpan.FromTicks(Math.Min(FirstRetryDelay.Ticks << (_readBackFailures - 1), _options.RenewInterval.Ticks));
            _readBackAt = _time.GetUtcNow() + delay;
            LogFailed(_logger, "read-back", _instance.EurekaAppName, _instance.InstanceId, response.Describe(), DurationParser.Format(delay));
            return;
        }

        _readBack = true;
        if (_reported!.Override)
        {
            return; // the app took the instance out meanwhile: the override is this run's own
        }

        var held = OverrideIn(response.Body);
        if (held is not { } status || status == InstanceStatus.Unknown)
        {
            _marker.Forget(); // nothing held: whatever an earlier run remembered is gone
            return;
        }

        if (status == InstanceStatus.OutOfService && _marker.LeftBy(_instance.EurekaAppName, _instance.InstanceId))
        {
            _reported = new Reported(status, true);
            TrackOverride();
            LogInheritedOverride(_logger, response.Server!.Display, status.ToWire(), _instance.EurekaAppName, _instance.InstanceId);
            _events?.Add(AgentEventKind.Registration, $"Removing an override {status.ToWire()} of {_instance.EurekaAppName}/{_instance.InstanceId} this agent left before this start");
            return;
        }

        LogOperatorOverride(_logger, response.Server!.Display, status.ToWire(), _instance.EurekaAppName, _instance.InstanceId);
        _events?.Add(AgentEventKind.Registration, $"Eureka holds an override {status.ToWire()} of {_instance.EurekaAppName}/{_instance.InstanceId} that this agent did not set: left in place");
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

    /// <summary>Sends the difference between the desired status and what Eureka was told; returns when a rate-limited change may go.</summary>
    private async Task<DateTimeOffset?> SyncStatusAsync(CancellationToken cancellationToken)
    {
        var desired = Desired();
        var reported = _reported!;
        if (desired == reported)
        {
            return null;
        }

        EurekaResponse response;
        string operation;
        if (desired.Override != reported.Override)
        {
            // The app's OUT_OF_SERVICE and its end go through the override API, within the same rate limit as
            // health changes (an app toggling its status must not flood Eureka: issue 13); the drain's at once.
            if (!_status.Draining && HeldForToken(desired.Status) is { } heldUntil)
            {
                return heldUntil;
            }

            var dirty = NextDirtyTimestamp();
            if (desired.Override)
            {
                operation = "status override";
                response = await _client.UpdateStatusAsync(_instance.EurekaAppName, _instance.InstanceId, InstanceStatus.OutOfService, dirty, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                operation = "status override removal";
                response = await _client.DeleteStatusOverrideAsync(_instance.EurekaAppName, _instance.InstanceId, desired.Status, dirty, cancellationToken).ConfigureAwait(false);
            }

            if (response.Succeeded)
            {
                if (desired.Override)
                {
                    _marker.Remember(_instance.EurekaAppName, _instance.InstanceId);
                }
                else
                {
                    _marker.Forget();
                }

                _reported = desired;
                TrackOverride();
                _lastDirtyTimestamp = dirty;
                LogStatusSent(_logger, _instance.EurekaAppName, _instance.InstanceId, reported.Status.ToWire(), desired.Status.ToWire(), operation);
                Registered(response);
                return null;
            }
        }
        else
        {
            // A health change: re-register with the new status, within the rate limit.
            if (HeldForToken(desired.Status) is { } heldUntil)
            {
                return heldUntil;
            }

            var previous = reported.Status;
            if (await RegisterAsync(desired, cancellationToken).ConfigureAwait(false))
            {
                LogStatusSent(_logger, _instance.EurekaAppName, _instance.InstanceId, previous.ToWire(), desired.Status.ToWire(), "registration");
                return null;
            }

            return null; // RegisterAsync logged it and set the retry
        }

        if (response.NotFound)
        {
            // The server lost the lease (restart, eviction): register again, with the status it should have.
            LogLeaseUnknown(_logger, operation, response.Server!.Display);
            _reported = null;
            TrackOverride();
            _retryAt = DateTimeOffset.MinValue;
            return null;
        }

        Failed(operation, response);
        return null;
    }

    /// <summary>Takes a token for a status change; when none is left, when the next one comes (logged once per held status).</summary>
    private DateTimeOffset? HeldForToken(InstanceStatus status)
    {
        if (_limiter.TryTake(out var nextAt))
        {
            _heldStatus = null;
            return null;
        }

        // Said once per held status: the loop looks again at every renew while it waits.
        if (_heldStatus != status)
        {
            _heldStatus = status;
            LogRateLimited(_logger, status.ToWire(), nextAt);
        }

        return nextAt;
    }

    private async Task RenewAsync(CancellationToken cancellationToken)
    {
        var response = await _client.RenewAsync(_instance.EurekaAppName, _instance.InstanceId, _reported!.Status, _lastDirtyTimestamp, cancellationToken).ConfigureAwait(false);
        if (response.Succeeded)
        {
            _nextRenew = _time.GetUtcNow() + _options.RenewInterval;
            Registered(response);
            return;
        }

        if (response.NotFound)
        {
            // Lease unknown (server restarted or evicted us) or our dirty timestamp is newer: register again now.
            LogLeaseUnknown(_logger, "renew", response.Server!.Display);
            _reported = null;
            TrackOverride();
            _retryAt = DateTimeOffset.MinValue;
            return;
        }

        // Every server failed: the lease may be gone by the time one is back, so register again (docs/eureka.md#lifecycle: any renew failure re-registers).
        _reported = null;
        TrackOverride();
        Failed("renew", response);
    }

    // Backs off from 1 s to the renew interval while every server fails.
    private void Failed(string operation, EurekaResponse response)
    {
        var delay = _retryDelay;
        _retryAt = _time.GetUtcNow() + delay;
        _retryDelay = TimeSpan.FromTicks(Math.Min(_retryDelay.Ticks * 2, _options.RenewInterval.Ticks));
        _lastFailure = $"{operation} failed on every server: {response.Describe()}";
        if (_retryAt >= _stopsAt)
        {
            LogFailedAtShutdown(_logger, operation, _instance.EurekaAppName, _instance.InstanceId, response.Describe());
        }
        else
        {
            LogFailed(_logger, operation, _instance.EurekaAppName, _instance.InstanceId, response.Describe(), DurationParser.Format(delay));
        }

        if (_everRegistered)
        {
            SetReadiness(true, $"registered; last {operation} failed on every Eureka server: {response.Describe()}");
        }
        else
        {
            SetReadiness(false, $"not registered: {operation} failed on every Eureka server: {response.Describe()}");
        }
    }

    private void Registered(EurekaResponse response)
    {
        _lastFailure = null;
        lock (_readinessLock)
        {
            _lastHeartbeat = _time.GetUtcNow();
            _reportedStatus = _reported?.Status;
        }

        SetReadiness(true, $"registered with {response.Server!.Display} as {_reported?.Status.ToWire() ?? "UNKNOWN"}");
    }

    private void SetReadiness(bool ready, string detail)
    {
        bool changed;
        lock (_readinessLock)
        {
            changed = _readiness.Ready != ready || !string.Equals(_readiness.Detail, detail, StringComparison.Ordinal);
            _readiness = new ReadinessResult(ready, detail);
        }

        // Renewals repeat the same text: only a change is an event.
        if (changed)
        {
            _events?.Add(AgentEventKind.Registration, char.ToUpperInvariant(detail[0]) + detail[1..]);
        }
    }

    private Reported Desired() => _status.IsOutOfService
        ? new Reported(InstanceStatus.OutOfService, true)
        : new Reported(_status.Health, false);

    // lastDirtyTimestamp changes with every change of the instance and never goes back, even within one millisecond.
    private long NextDirtyTimestamp() => Math.Max(_time.GetUtcNow().ToUnixTimeMilliseconds(), _lastDirtyTimestamp + 1);

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

    // After every change of what Eureka holds: when an OUT_OF_SERVICE of the app's own began, kept while it
    // lasts. One the drain caused does not count (the loop, woken by the drain, may send it first).
    private void TrackOverride() =>
        _outOfServiceSince = _reported is { Override: true } ? _outOfServiceSince ?? (_status.Draining ? null : _time.GetUtcNow()) : null;

    private static DateTimeOffset Earliest(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <summary>What Eureka holds for this instance: its status and whether an OUT_OF_SERVICE override is set.</summary>
    private sealed record Reported(InstanceStatus Status, bool Override);

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "Registered {App}/{InstanceId} with {Server} as {Status}")]
    private static partial void LogRegistered(ILogger logger, string app, string instanceId, string server, string status);

    [LoggerMessage(EventId = 211, Level = LogLevel.Information, Message = "Eureka status of {App}/{InstanceId}: {Previous} -> {Status} (by {Operation})")]
    private static partial void LogStatusSent(ILogger logger, string app, string instanceId, string previous, string status, string operation);

    [LoggerMessage(EventId = 212, Level = LogLevel.Warning, Message = "Eureka {Server} does not know this lease ({Operation} answered 404): registering again")]
    private static partial void LogLeaseUnknown(ILogger logger, string operation, string server);

    [LoggerMessage(EventId = 213, Level = LogLevel.Warning, Message = "Eureka {Operation} of {App}/{InstanceId} failed on every server ({Error}); retrying in {Delay}")]
    private static partial void LogFailed(ILogger logger, string operation, string app, string instanceId, string error, string delay);

    [LoggerMessage(EventId = 214, Level = LogLevel.Information, Message = "Status change to {Status} rate-limited; sending it at {NextAt:O}")]
    private static partial void LogRateLimited(ILogger logger, string status, DateTimeOffset nextAt);

    [LoggerMessage(EventId = 215, Level = LogLevel.Information, Message = "Draining for {Drain}: OUT_OF_SERVICE in Eureka, still serving")]
    private static partial void LogDraining(ILogger logger, string drain);

    [LoggerMessage(EventId = 220, Level = LogLevel.Warning, Message = "Draining for {Drain}, still serving; OUT_OF_SERVICE has not reached Eureka ({Error})")]
    private static partial void LogDrainingNotInEureka(ILogger logger, string drain, string error);

    [LoggerMessage(EventId = 221, Level = LogLevel.Warning, Message = "Eureka {Operation} of {App}/{InstanceId} failed on every server ({Error}); not retried: shutting down")]
    private static partial void LogFailedAtShutdown(ILogger logger, string operation, string app, string instanceId, string error);

    [LoggerMessage(EventId = 223, Level = LogLevel.Warning, Message = "SIDECAR_DRAIN={Drain} is shorter than callers may keep calling this instance after it leaves: up to {Needed} (Eureka's response cache 30s + a fetch interval of {Fetch}); see docs/operations.md")]
    private static partial void LogDrainTooShort(ILogger logger, string drain, string needed, string fetch);

    [LoggerMessage(EventId = 224, Level = LogLevel.Information, Message = "OUT_OF_SERVICE in Eureka for {Already} already: the drain is over, cancelling the lease")]
    private static partial void LogDrainAlreadyDone(ILogger logger, string already);

    [LoggerMessage(EventId = 225, Level = LogLevel.Information, Message = "OUT_OF_SERVICE in Eureka for {Already} already: draining for the remaining {Remaining}")]
    private static partial void LogDrainShortened(ILogger logger, string already, string remaining);

    [LoggerMessage(EventId = 216, Level = LogLevel.Information, Message = "Cancelled the lease of {App}/{InstanceId} on {Server}")]
    private static partial void LogCancelled(ILogger logger, string app, string instanceId, string server);

    [LoggerMessage(EventId = 217, Level = LogLevel.Warning, Message = "Could not cancel the lease of {App}/{InstanceId}: {Error}; Eureka will expire it")]
    private static partial void LogCancelFailed(ILogger logger, string app, string instanceId, string error);

    [LoggerMessage(EventId = 219, Level = LogLevel.Warning, Message = "Eureka {Server} kept a status override {Status} of {App}/{InstanceId} that this agent set before this start (a previous run that did not cancel its lease): removing it. To take the instance out of service, use PUT /v1/registration/status")]
    private static partial void LogInheritedOverride(ILogger logger, string server, string status, string app, string instanceId);

    [LoggerMessage(EventId = 233, Level = LogLevel.Warning, Message = "Eureka {Server} holds a status override {Status} of {App}/{InstanceId} that this agent did not set (an operator's?): left in place, so the instance stays {Status} whatever its health until the override is removed (DELETE apps/{App}/{InstanceId}/status on Eureka)")]
    private static partial void LogOperatorOverride(ILogger logger, string server, string status, string app, string instanceId);

    [LoggerMessage(EventId = 222, Level = LogLevel.Warning, Message = "Could not read {App}/{InstanceId} back from Eureka in {Attempts} attempts ({Error}): an override kept from before this start, if any, stays")]
    private static partial void LogReadBackGivenUp(ILogger logger, string app, string instanceId, int attempts, string error);

    [LoggerMessage(EventId = 218, Level = LogLevel.Error, Message = "Registration loop failed; trying again at the next renew")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}

using Sidecar.Configuration;
using Sidecar.Eureka;

namespace Sidecar.Health;

/// <summary>
/// Probes the app on a fixed period and keeps its health state (docs/app-health.md):
/// STARTING until the first success, DOWN after <see cref="AppHealthOptions.FailureThreshold"/>
/// failures in a row, UP again after one success. A status the app declares in its JSON body
/// (DOWN, OUT_OF_SERVICE, STARTING) applies at once. Answers are served from this state; nothing
/// ever waits for the app. Every change is published through <see cref="StatusChanged"/>.
/// </summary>
internal sealed partial class AppHealthMonitor : BackgroundService
{
    private readonly AppHealthOptions _options;
    private readonly IAppHealthProbe? _probe;
    private readonly TimeProvider _time;
    private readonly ILogger<AppHealthMonitor> _logger;
    private readonly SemaphoreSlim _probing = new(1, 1);
    private readonly ProbeRecord?[] _history = new ProbeRecord?[ProbeHistorySize];
    private readonly Lock _historyLock = new();
    private int _historyNext;
    private AppHealthSnapshot _current;

    public AppHealthMonitor(AppHealthOptions options, TimeProvider time, ILogger<AppHealthMonitor> logger, IAppHealthProbe? probe = null)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _probe = options.Url is null ? null : probe;
        _current = _probe is null
            ? new AppHealthSnapshot(InstanceStatus.Up, time.GetUtcNow(), null, null, 0, ProbeEnabled: false)
            : new AppHealthSnapshot(InstanceStatus.Starting, time.GetUtcNow(), null, null, 0, ProbeEnabled: true);
        ProbeUrl = _probe is null ? null : Shown(options.Url!);
    }

    /// <summary>How many probes <see cref="RecentProbes"/> keeps.</summary>
    public const int ProbeHistorySize = 20;

    /// <summary>Raised after every status change, on the probing thread. Handlers must not block; their exceptions are logged.</summary>
    public event EventHandler<AppHealthChangedEventArgs>? StatusChanged;

    /// <summary>Raised after every probe (metrics), on the probing thread. Handlers must not block; their exceptions are logged.</summary>
    public event EventHandler<ProbeRecord>? ProbeCompleted;

    public AppHealthSnapshot Current => Volatile.Read(ref _current);

    /// <summary>
    /// The URL probed, as shown (logs, <c>/v1/health</c>, the status page): user info and query values masked
    /// (<c>http://***@host/health?token=***</c>), since the public health listener serves it to anyone. Null when probing is off.
    /// </summary>
    public string? ProbeUrl { get; }

    /// <summary>
    /// <paramref name="url"/> with its user info and every query value masked, the parameter names kept
    /// (<c>?token=***&amp;env=***</c>); a parameter without a value is masked whole, as it may be the secret.
    /// </summary>
    internal static string Shown(Uri url)
    {
        if (TcpAppHealthProbe.IsTcp(url))
        {
            return "tcp://" + url.Authority; // nothing else to mask: user info, path and query are refused at start
        }

        if (GrpcAppHealthProbe.IsGrpc(url))
        {
            return url.Scheme + "://" + url.Authority + url.AbsolutePath.TrimEnd('/'); // user info and query are refused at start
        }

        var shown = SettingsReader.RedactUserInfo(url.GetComponents(UriComponents.SchemeAndServer | UriComponents.UserInfo | UriComponents.Path, UriFormat.UriEscaped));
        var query = url.Query;
        if (query.Length <= 1)
        {
            return shown;
        }

        var parts = query[1..].Split('&');
        for (var i = 0; i < parts.Length; i++)
        {
            var equals = parts[i].IndexOf('=', StringComparison.Ordinal);
            parts[i] = parts[i].Length == 0 ? "" : equals < 0 ? "***" : parts[i][..(equals + 1)] + "***";
        }

        return shown + "?" + string.Join('&', parts);
    }

    /// <summary>The last <see cref="ProbeHistorySize"/> probes, newest first (the status page's probe history).</summary>
    public IReadOnlyList<ProbeRecord> RecentProbes()
    {
        lock (_historyLock)
        {
            var result = new List<ProbeRecord>(ProbeHistorySize);
            for (var i = 1; i <= ProbeHistorySize; i++)
            {
                if (_history[(_historyNext - i + ProbeHistorySize) % ProbeHistorySize] is { } record)
                {
                    result.Add(record);
                }
            }

            return result;
        }
    }

    /// <summary>Probes once and applies the result. The loop calls it; tests call it directly.</summary>
    public async Task<AppHealthSnapshot> ProbeOnceAsync(CancellationToken stoppingToken)
    {
        if (_probe is null)
        {
            return Current;
        }

        await _probing.WaitAsync(stoppingToken).ConfigureAwait(false);
        try
        {
            var result = await RunProbeAsync(_probe, stoppingToken).ConfigureAwait(false);
            return Apply(result);
        }
        finally
        {
            _probing.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_probe is null)
        {
            LogProbeDisabled(_logger, _options.DisabledReason ?? "no health URL");
            return;
        }

        LogProbing(_logger, ProbeUrl!, DurationParser.Format(_options.Interval), DurationParser.Format(_options.Timeout), _options.FailureThreshold);
        try
        {
            // Start to start: the timer runs from before the first probe, so a slow probe does not
            // stretch the period (a probe longer than the interval is followed by the next at once).
            using var timer = new PeriodicTimer(_options.Interval, _time);
            do
            {
                await ProbeOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutting down
        }
    }

    public override void Dispose()
    {
        _probing.Dispose();
        base.Dispose();
    }

    private async Task<ProbeResult> RunProbeAsync(IAppHealthProbe probe, CancellationToken stoppingToken)
    {
        var started = _time.GetTimestamp();
        using var timeout = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timeout.Token);
        try
        {
            return await probe.ProbeAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return ProbeResult.Failure($"timed out after {DurationParser.Format(_options.Timeout)}", _time.GetElapsedTime(started));
        }
#pragma warning disable CA1031 // a probe must never take the monitor down: any surprise is a failed probe
        catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
        {
            return ProbeResult.Failure("probe error: " + ex.Message, _time.GetElapsedTime(started));
        }
    }

    private AppHealthSnapshot Apply(ProbeResult result)
    {
        var previous = Current;
        var now = _time.GetUtcNow();
        var failures = result.Healthy || result.ReportedStatus is InstanceStatus.OutOfService or InstanceStatus.Starting
            ? 0
            : previous.ConsecutiveFailures + 1;

        var status = result switch
        {
            { Healthy: true } => InstanceStatus.Up,
            { ReportedStatus: { } declared } when declared != InstanceStatus.Up => declared,
            _ when failures >= _options.FailureThreshold => InstanceStatus.Down,
            _ => previous.Status,
        };

        var next = new AppHealthSnapshot(status, status == previous.Status ? previous.Since : now, now, result, failures, ProbeEnabled: true);
        Volatile.Write(ref _current, next);
        var record = new ProbeRecord(now, result, status);
        lock (_historyLock)
        {
            _history[_historyNext] = record;
            _historyNext = (_historyNext + 1) % ProbeHistorySize;
        }

        Publish(ProbeCompleted, record);

        if (!result.Healthy)
        {
            LogProbeFailed(_logger, result.Detail, failures, _options.FailureThreshold);
        }

        if (status != previous.Status)
        {
            if (status == InstanceStatus.Up)
            {
                LogStatusUp(_logger, previous.Status.ToWire(), result.Detail);
            }
            else
            {
                LogStatusNotUp(_logger, previous.Status.ToWire(), status.ToWire(), result.Detail);
            }

            Publish(StatusChanged, new AppHealthChangedEventArgs(previous.Status, next));
        }

        return next;
    }

    private void Publish<T>(EventHandler<T>? handlers, T args)
    {
        if (handlers is null)
        {
            return;
        }

        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                ((EventHandler<T>)handler)(this, args);
            }
#pragma warning disable CA1031 // one bad subscriber must not stop the others or the probe loop
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogSubscriberFailed(_logger, ex);
            }
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Probing app health at {Url} every {Interval}, time-out {Timeout}, DOWN after {Threshold} failures")]
    private static partial void LogProbing(ILogger logger, string url, string interval, string timeout, int threshold);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "App health probing is off ({Reason}): the app is reported UP")]
    private static partial void LogProbeDisabled(ILogger logger, string reason);

    [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "App health probe failed: {Detail} ({Failures} in a row, threshold {Threshold})")]
    private static partial void LogProbeFailed(ILogger logger, string detail, int failures, int threshold);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "App health {Previous} -> UP ({Detail})")]
    private static partial void LogStatusUp(ILogger logger, string previous, string detail);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "App health {Previous} -> {Status} ({Detail})")]
    private static partial void LogStatusNotUp(ILogger logger, string previous, string status, string detail);

    [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "A health status subscriber failed")]
    private static partial void LogSubscriberFailed(ILogger logger, Exception exception);
}

using System.Globalization;
using static Sidecar.AppConfig.AppConfigLog;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.AppConfig;

/// <summary>
/// Loads the app's config at start and keeps it fresh (docs/config-server.md): the local file
/// below the Config Server's sources, re-read every poll interval. The start waits for the first load
/// (as Steeltoe's provider does), so the app never reads an empty config from a starting agent. With
/// every server down the last-known-good copy is served; with fail-fast and no copy the start fails.
/// A failed refresh changes nothing that is served. The loop never dies: it catches, logs, goes on.
/// </summary>
/// <remarks>
/// The loop that performs the decisions: <see cref="ConfigFileReader"/> reads the file and the seed,
/// <see cref="ConfigServerClient"/> fetches from the servers in order (<see cref="ConfigServerFailover"/>),
/// <see cref="ConfigLayers"/> says how the layers combine, <see cref="FirstLoadDecider"/>,
/// <see cref="ConfigRefreshDecider"/> and <see cref="LastKnownGoodDecider"/> decide, and
/// <see cref="AppConfigStatus"/> words the health entry.
/// </remarks>
internal sealed class AppConfigRefresher : BackgroundService
{
    private readonly AppConfigOptions _options;
    private readonly AppConfigStore _store;
    private readonly LastKnownGoodStore _lastKnownGood;
    private readonly ConfigServerClient? _client;
    private readonly ConfigFileReader? _file;
    private readonly TimeProvider _time;
    private readonly ILogger<AppConfigRefresher> _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConfigMetrics? _metrics;
    private readonly CipherDecryptor? _decryptor;

    // The layers and what is known of them, touched only under _gate.
    private readonly ConfigLayers _layers = new();
    private EffectiveConfig? _effective; // the last config built, with what could not be decrypted or resolved
    private readonly LastKnownGoodKeeper _keeper;
    private ConfigFetchResult? _lastGood;
    private string? _failure; // the Config Server's last error, null once it answers again
    private string? _fileFailure; // CONFIG_FILE's last error, null once it is read again
    private LastKnownGoodCopy? _servedCopy;
    private string _since = "";

    public AppConfigRefresher(
        AppConfigOptions options,
        AppConfigStore store,
        LastKnownGoodStore lastKnownGood,
        TimeProvider time,
        ILogger<AppConfigRefresher> logger,
        ConfigServerClient? client = null,
        ConfigMetrics? metrics = null)
    {
        _metrics = metrics;
        _options = options;
        _store = store;
        _lastKnownGood = lastKnownGood;
        _time = time;
        _logger = logger;
        _client = options.UsesServer ? client ?? throw new ArgumentNullException(nameof(client)) : null;
        _file = options.File is { } file ? new ConfigFileReader(file, options.FileFormat, options.Profiles) : null;
        _decryptor = options.EncryptKey is { } key ? new CipherDecryptor(key, options.EncryptSalt) : null;
        _keeper = new LastKnownGoodKeeper(options, lastKnownGood, time, logger);
    }

    /// <summary>The first load, then the poll loop.</summary>
    /// <exception cref="InvalidConfigurationException">When <c>CONFIG_FILE</c> cannot be read.</exception>
    /// <exception cref="AgentStartException">With fail-fast, when neither the server nor a saved copy gives a config.</exception>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Re-reads the file and the server once and publishes a new version if the content changed. The loop calls it; tests call it directly.</summary>
    /// <returns>The change, or null when nothing changed (or the refresh failed).</returns>
    public async Task<AppConfigChange?> RefreshOnceAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var failed = !RefreshFile();
            ConfigFetchResult? fetched = null;
            if (_client is not null)
            {
                fetched = await _client.FetchAsync(cancellationToken).ConfigureAwait(false);
                if (fetched.Succeeded)
                {
                    _layers.Serve(ServerLayerSource.Server, fetched.Environment!.Merge());
                    _lastGood = fetched;
                }
                else
                {
                    failed = true; // docs/config-server.md#refresh: a failed read keeps the previous config.
                }

                switch (ConfigRefreshDecider.Note(_failure, fetched.Error))
                {
                    case FailureNote.First:
                        LogRefreshFailed(_logger, _store.Current.Version, fetched.Error!);
                        break;
                    case FailureNote.Repeat:
                        LogRefreshStillFailing(_logger, _store.Current.Version, fetched.Error!);
                        break;
                    case FailureNote.Recovered:
                        LogRecovered(_logger, fetched.Server!);
                        break;
                }

                _failure = fetched.Error;
            }

            var change = _store.Publish(Effective());
            _metrics?.Refreshed(ConfigRefreshDecider.Outcome(change is not null, failed));
            if (change is not null)
            {
                LogChanged(_logger, change.PreviousVersion, change.Version, Names(change.Added), Names(change.Changed), Names(change.Removed));
            }
            else
            {
                LogUnchanged(_logger, _store.Current.Version, _lastGood?.Environment?.Version ?? "none");
            }

            if (fetched is { Succeeded: true })
            {
                _keeper.Keep(fetched, _layers.ServerValues!, _store.Current);
                _since = Now();
            }

            UpdateStatus();
            return change;
        }
        finally
        {
            _gate.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        switch (ConfigRefreshDecider.Plan(_client is not null, _file is not null, _options.PollInterval))
        {
            case PollPlan.NothingToRead:
                return;
            case PollPlan.PollingOff:
                LogPollingOff(_logger);
                return;
        }

        LogPolling(_logger, DurationParser.Format(_options.PollInterval));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.PollInterval, _time, stoppingToken).ConfigureAwait(false);
                await RefreshOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // the poll loop must outlive any surprise: log it and poll again
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogRefreshError(_logger, ex);
            }
        }
    }

    public override void Dispose()
    {
        _gate.Dispose();
        base.Dispose();
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        if (_file is not null)
        {
            if (!_file.TryRead(out var error))
            {
                throw new InvalidConfigurationException([$"{AgentVariables.Describe("AppConfig:File")}: {error}"]);
            }

            _layers.FileDocuments = _file.Documents;
            LogFileLoaded(_logger, _file.Path, _file.KeyCount);
        }

        if (_client is null)
        {
            _store.Initialize(Effective(), 1);
            _since = Now();
            if (_file is not null)
            {
                // The first load is a refresh too: a dashboard of refreshes then shows every start.
                _metrics?.Refreshed(ConfigRefreshOutcome.Changed);
            }

            UpdateStatus();
            return;
        }

        // Read (and checked) at every start, so a broken seed shows at deploy time rather than in an outage.
        var seed = ConfigFileReader.ReadSeed(_options);
        var saved = _lastKnownGood.TryRead(_options.AppName!, _options.Profiles, _options.Labels);
        var fetched = await FetchWithRetryAsync(cancellationToken).ConfigureAwait(false);
        _since = Now();
        _metrics?.Refreshed(FirstLoadDecider.Outcome(fetched.Succeeded));
        switch (FirstLoadDecider.Decide(fetched.Succeeded, saved is not null, seed is not null, _options.FailFast))
        {
            case FirstLoad.Server:
            {
                _layers.Serve(ServerLayerSource.Server, fetched.Environment!.Merge());
                _lastGood = fetched;
                var snapshot = Initialize(saved);
                var environment = fetched.Environment;
                LogLoaded(_logger, fetched.Server!, Identity(_options, fetched.Label), environment.Version ?? "none", environment.Sources.Count, snapshot.Values.Count, snapshot.Version);
                if (saved is not null)
                {
                    _keeper.Remember(saved);
                }

                _keeper.Keep(fetched, _layers.ServerValues!, _store.Current);
                break;
            }

            case FirstLoad.Seed:
            {
                // No server and no copy of its last answer: the seed stands in for the server until one answers.
                _layers.Serve(ServerLayerSource.Seed, seed!);
                _failure = fetched.Error;
                var snapshot = _store.Initialize(Effective(), 1);
                LogServingSeed(_logger, fetched.Error!, _options.SeedFile!, snapshot.Values.Count);
                break;
            }

            case FirstLoad.LastKnownGood:
            {
                _layers.Serve(ServerLayerSource.LastKnownGood, new Dictionary<string, string>(saved!.Values, StringComparer.Ordinal));
                _servedCopy = saved;
                _failure = fetched.Error;
                var snapshot = Initialize(saved);
                _keeper.Remember(saved);
                LogServingLastKnownGood(_logger, fetched.Error!, _lastKnownGood.FilePath, saved.SavedAt.ToString("u", CultureInfo.InvariantCulture), saved.Server ?? "?", snapshot.Values.Count, snapshot.Version);
                break;
            }

            case FirstLoad.FailStart:
                throw new AgentStartException(FirstLoadDecider.FailFastMessage(_options.Retry.MaxAttempts, fetched.Error, _lastKnownGood.FilePath));

            default:
                _failure = fetched.Error;
                _store.Initialize(Effective(), 1);
                LogNoConfig(_logger, fetched.Error!, _file is null ? "no config" : "the file's config only",
                    _options.PollInterval > TimeSpan.Zero ? $"retrying every {DurationParser.Format(_options.PollInterval)}" : "polling is off");
                break;
        }

        UpdateStatus();
    }

    // Steeltoe: retries only with fail-fast; the wait starts at InitialInterval and grows by Multiplier up to MaxInterval.
    private async Task<ConfigFetchResult> FetchWithRetryAsync(CancellationToken cancellationToken)
    {
        var attempts = FirstLoadDecider.Attempts(_options.FailFast, _options.Retry);
        for (var attempt = 1; ; attempt++)
        {
            var result = await _client!.FetchAsync(cancellationToken).ConfigureAwait(false);
            if (FirstLoadDecider.RetryAfter(attempt, attempts, result.Succeeded, _options.Retry) is not { } delay)
            {
                return result;
            }

            LogRetrying(_logger, attempt, attempts, result.Error!, DurationParser.Format(delay));
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    // The version goes on from the saved copy: the same content keeps its version (and ETag) across a restart.
    private AppConfigSnapshot Initialize(LastKnownGoodCopy? saved)
    {
        var values = Effective();
        return _store.Initialize(values, FirstLoadDecider.ContinueVersion(saved?.ConfigVersion, saved?.EffectiveHash, AppConfigSnapshot.Hash(values)));
    }

    /// <summary>
    /// The served config: the layers (<see cref="ConfigLayers"/>) decrypted and with placeholders resolved
    /// (<see cref="EffectiveConfig"/>). What could not be decrypted or resolved is warned about when it
    /// changes and shown in /v1/health.
    /// </summary>
    private Dictionary<string, string> Effective()
    {
        var previous = _effective;
        var effective = EffectiveConfig.Build(_layers.Sources(), _decryptor);
        _effective = effective;
        var (notDecrypted, invalidFromServer, unresolved) = ConfigLayers.NewProblems(previous, effective);
        if (notDecrypted.Count > 0)
        {
            LogNotDecrypted(_logger, string.Join(", ", notDecrypted),
                _decryptor is null ? "ENCRYPT_KEY is not set" : "they are not encrypted with ENCRYPT_KEY (and ENCRYPT_SALT)");
        }

        if (invalidFromServer.Count > 0)
        {
            LogServerCouldNotDecrypt(_logger, string.Join(", ", invalidFromServer));
        }

        if (unresolved.Count > 0)
        {
            LogUnresolved(_logger, string.Join(", ", unresolved));
        }

        return effective.Values;
    }

    /// <summary>Re-reads the file, if any; false when it could not be read (its previous values stay).</summary>
    /// <remarks>As for the server: the first failure is a warning, repeats are debug lines (a broken file
    /// would otherwise warn every poll), the recovery is information, and /v1/health shows the last error.</remarks>
    private bool RefreshFile()
    {
        if (_file is null)
        {
            return true;
        }

        var read = _file.TryRead(out var error);
        if (read)
        {
            _layers.FileDocuments = _file.Documents;
        }

        var failure = read ? null : error;
        switch (ConfigRefreshDecider.Note(_fileFailure, failure))
        {
            case FailureNote.First:
                LogFileFailed(_logger, _file.Path, error);
                break;
            case FailureNote.Repeat:
                LogFileStillFailing(_logger, _file.Path, error);
                break;
            case FailureNote.Recovered:
                LogFileRecovered(_logger, _file.Path, _file.KeyCount);
                break;
        }

        _fileFailure = failure;
        return read;
    }

    private void UpdateStatus()
    {
        var snapshot = _store.Current;
        _store.Status = new AppConfigStatus
        {
            UsesServer = _client is not null,
            File = _options.File,
            Keys = snapshot.Values.Count,
            Version = snapshot.Version,
            Source = _layers.ServerSource,
            Server = _lastGood?.Server,
            Label = _lastGood?.Environment?.Label ?? _lastGood?.Label,
            ServerVersion = _lastGood?.Environment?.Version,
            SeedFile = _options.SeedFile,
            CopySavedAt = _servedCopy?.SavedAt,
            CopyServer = _servedCopy?.Server,
            Since = _since,
            Failure = _failure,
            FileFailure = _fileFailure,
            Problems = _effective?.Problems() ?? "",
        }.ToReadiness();
    }

    private string Now() => _time.GetUtcNow().ToString("u", CultureInfo.InvariantCulture);
}

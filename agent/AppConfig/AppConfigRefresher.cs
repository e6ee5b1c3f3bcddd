using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Sidecar.Configuration;
using Sidecar.Health;
using Sidecar.Platform;

namespace Sidecar.AppConfig;

/// <summary>
/// Loads the app's config at start and keeps it fresh (docs/config-server.md): the local file
/// below the Config Server's sources, re-read every poll interval. The start waits for the first load
/// (as Steeltoe's provider does), so the app never reads an empty config from a starting agent. With
/// every server down the last-known-good copy is served; with fail-fast and no copy the start fails.
/// A failed refresh changes nothing that is served. The loop never dies: it catches, logs, goes on.
/// </summary>
internal sealed partial class AppConfigRefresher : BackgroundService
{
    private const int MaxKeysLogged = 20;

    private readonly AppConfigOptions _options;
    private readonly AppConfigStore _store;
    private readonly LastKnownGoodStore _lastKnownGood;
    private readonly ConfigServerClient? _client;
    private readonly TimeProvider _time;
    private readonly ILogger<AppConfigRefresher> _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConfigMetrics? _metrics;
    private readonly CipherDecryptor? _decryptor;

    // The layers, touched only under _gate.
    private List<Dictionary<string, string>> _fileDocuments = []; // the file's documents that apply, in file order
    private EffectiveConfig? _effective; // the last config built, with what could not be decrypted or resolved
    private string? _fileHash;
    private Dictionary<string, string>? _serverValues;
    private ConfigFetchResult? _lastGood;
    private (long Version, string ServerHash, string? ServerVersion)? _saved;
    private int _savedKeys; // keys in the copy on disk (0 when there is none)
    private bool _emptyAnswer; // the server's last good answer had no keys (warned once per streak)
    private string? _failure; // the Config Server's last error, null once it answers again
    private string? _fileFailure; // CONFIG_FILE's last error, null once it is read again
    private LastKnownGoodCopy? _servedCopy;
    private bool _servingSeed; // CONFIG_SEED_FILE stands in for the server (until one answers)
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
        _decryptor = options.EncryptKey is { } key ? new CipherDecryptor(key, options.EncryptSalt) : null;
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
                    _serverValues = fetched.Environment!.Merge();
                    _lastGood = fetched;
                    if (_failure is not null)
                    {
                        LogRecovered(_logger, fetched.Server!);
                        _failure = null;
                    }
                }
                else
                {
                    // docs/config-server.md#refresh: a failed read keeps the previous config.
                    if (_failure is null)
                    {
                        LogRefreshFailed(_logger, _store.Current.Version, fetched.Error!);
                    }
                    else
                    {
                        LogRefreshStillFailing(_logger, _store.Current.Version, fetched.Error!);
                    }

                    _failure = fetched.Error;
                    failed = true;
                }
            }

            var change = _store.Publish(Effective());
            _metrics?.Refreshed(change is not null ? ConfigRefreshOutcome.Changed : failed ? ConfigRefreshOutcome.Failed : ConfigRefreshOutcome.Unchanged);
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
                NoteEmptyAnswer(fetched);
                Save(fetched);
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
        if (_client is null && _options.File is null)
        {
            return;
        }

        if (_options.PollInterval <= TimeSpan.Zero)
        {
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
        if (_options.File is { } file)
        {
            if (!TryReadFile(out var error))
            {
                throw new InvalidConfigurationException([$"{AgentVariables.Describe("AppConfig:File")}: {error}"]);
            }

            LogFileLoaded(_logger, file, FileKeyCount());
        }

        if (_client is null)
        {
            _store.Initialize(Effective(), 1);
            _since = Now();
            if (_options.File is not null)
            {
                // The first load is a refresh too: a dashboard of refreshes then shows every start.
                _metrics?.Refreshed(ConfigRefreshOutcome.Changed);
            }

            UpdateStatus();
            return;
        }

        // Read (and checked) at every start, so a broken seed shows at deploy time rather than in an outage.
        var seed = ReadSeed();
        var saved = _lastKnownGood.TryRead(_options.AppName!, _options.Profiles, _options.Labels);
        var fetched = await FetchWithRetryAsync(cancellationToken).ConfigureAwait(false);
        _since = Now();

        // The first load counts once, whatever the retries: changed when a config went live, failed when no server gave one.
        _metrics?.Refreshed(fetched.Succeeded ? ConfigRefreshOutcome.Changed : ConfigRefreshOutcome.Failed);
        if (fetched.Succeeded)
        {
            _serverValues = fetched.Environment!.Merge();
            _lastGood = fetched;
            var snapshot = _store.Initialize(Effective(), ContinueVersion(saved));
            var environment = fetched.Environment;
            LogLoaded(_logger, fetched.Server!, Identity(fetched.Label), environment.Version ?? "none", environment.Sources.Count, snapshot.Values.Count, snapshot.Version);
            if (saved is not null)
            {
                _saved = (saved.ConfigVersion, AppConfigSnapshot.Hash(saved.Values), saved.ServerVersion);
                _savedKeys = saved.Values.Count;
            }

            NoteEmptyAnswer(fetched);
            Save(fetched);
        }
        else if (saved is null && seed is not null)
        {
            // No server and no copy of its last answer: the seed stands in for the server until one answers.
            _serverValues = seed;
            _servingSeed = true;
            _failure = fetched.Error;
            var snapshot = _store.Initialize(Effective(), 1);
            LogServingSeed(_logger, fetched.Error!, _options.SeedFile!, snapshot.Values.Count);
        }
        else if (saved is not null)
        {
            _serverValues = new Dictionary<string, string>(saved.Values, StringComparer.Ordinal);
            _servedCopy = saved;
            _failure = fetched.Error;
            var snapshot = _store.Initialize(Effective(), ContinueVersion(saved));
            _saved = (saved.ConfigVersion, AppConfigSnapshot.Hash(saved.Values), saved.ServerVersion);
            _savedKeys = saved.Values.Count;
            LogServingLastKnownGood(_logger, fetched.Error!, _lastKnownGood.FilePath, saved.SavedAt.ToString("u", CultureInfo.InvariantCulture), saved.Server ?? "?", snapshot.Values.Count, snapshot.Version);
        }
        else if (_options.FailFast)
        {
            var attempts = _options.Retry.MaxAttempts;
            throw new AgentStartException(
                $"CONFIG_FAIL_FAST: no config from the Config Server after {attempts} attempt{(attempts == 1 ? "" : "s")} " +
                $"({fetched.Error}) and no last-known-good copy in {_lastKnownGood.FilePath}");
        }
        else
        {
            _failure = fetched.Error;
            _store.Initialize(Effective(), 1);
            LogNoConfig(_logger, fetched.Error!, _options.File is null ? "no config" : "the file's config only",
                _options.PollInterval > TimeSpan.Zero ? $"retrying every {DurationParser.Format(_options.PollInterval)}" : "polling is off");
        }

        UpdateStatus();
    }

    // Steeltoe: retries only with fail-fast; the wait starts at InitialInterval and grows by Multiplier up to MaxInterval.
    private async Task<ConfigFetchResult> FetchWithRetryAsync(CancellationToken cancellationToken)
    {
        var attempts = _options.FailFast ? _options.Retry.MaxAttempts : 1;
        for (var attempt = 1; ; attempt++)
        {
            var result = await _client!.FetchAsync(cancellationToken).ConfigureAwait(false);
            if (result.Succeeded || attempt >= attempts)
            {
                return result;
            }

            var delay = _options.Retry.DelayAfter(attempt);
            LogRetrying(_logger, attempt, attempts, result.Error!, DurationParser.Format(delay));
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    // The version goes on from the saved copy: the same content keeps its version (and ETag) across a restart.
    private long ContinueVersion(LastKnownGoodCopy? saved)
    {
        if (saved is null)
        {
            return 1;
        }

        return AppConfigSnapshot.Hash(Effective()) == saved.EffectiveHash ? Math.Max(saved.ConfigVersion, 1) : saved.ConfigVersion + 1;
    }

    /// <summary>
    /// The served config: the Config Server's sources over the file's documents (the file is the
    /// lowest-precedence source, its later documents over its earlier ones), decrypted and with
    /// placeholders resolved (<see cref="EffectiveConfig"/>). What could not be decrypted or resolved is
    /// warned about when it changes and shown in /v1/health.
    /// </summary>
    private Dictionary<string, string> Effective()
    {
        var sources = new List<IEnumerable<KeyValuePair<string, string>>>(_fileDocuments.Count + 1);
        if (_serverValues is not null)
        {
            sources.Add(_serverValues);
        }

        for (var i = _fileDocuments.Count - 1; i >= 0; i--)
        {
            sources.Add(_fileDocuments[i]);
        }

        var previous = _effective;
        var effective = EffectiveConfig.Build(sources, _decryptor);
        _effective = effective;
        if (effective.NotDecrypted.Count > 0 && !effective.NotDecrypted.SequenceEqual(previous?.NotDecrypted ?? []))
        {
            LogNotDecrypted(_logger, string.Join(", ", effective.NotDecrypted),
                _decryptor is null ? "ENCRYPT_KEY is not set" : "they are not encrypted with ENCRYPT_KEY (and ENCRYPT_SALT)");
        }

        if (effective.InvalidFromServer.Count > 0 && !effective.InvalidFromServer.SequenceEqual(previous?.InvalidFromServer ?? []))
        {
            LogServerCouldNotDecrypt(_logger, string.Join(", ", effective.InvalidFromServer));
        }

        if (effective.Unresolved.Count > 0 && !effective.Unresolved.SequenceEqual(previous?.Unresolved ?? []))
        {
            LogUnresolved(_logger, string.Join(", ", effective.Unresolved));
        }

        return effective.Values;
    }

    private int FileKeyCount() => PropertySourceMerger.Merge(_fileDocuments).Count;

    /// <summary>Re-reads the file, if any; false when it could not be read (its previous values stay).</summary>
    /// <remarks>As for the server: the first failure is a warning, repeats are debug lines (a broken file
    /// would otherwise warn every poll), the recovery is information, and /v1/health shows the last error.</remarks>
    private bool RefreshFile()
    {
        if (_options.File is not { } file)
        {
            return true;
        }

        if (!TryReadFile(out var error))
        {
            if (_fileFailure is null)
            {
                LogFileFailed(_logger, file, error);
            }
            else
            {
                LogFileStillFailing(_logger, file, error);
            }

            _fileFailure = error;
            return false;
        }

        if (_fileFailure is not null)
        {
            LogFileRecovered(_logger, file, FileKeyCount());
            _fileFailure = null;
        }

        return true;
    }

    /// <summary>Reads the file when its bytes changed; on failure the previous values stay.</summary>
    private bool TryReadFile(out string error)
    {
        var path = _options.File!;
        error = "";
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            error = $"'{path}' does not exist";
            return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = $"cannot read '{path}': {ex.Message}";
            return false;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (hash == _fileHash)
        {
            return true;
        }

        try
        {
            var text = Encoding.UTF8.GetString(bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes.AsSpan(3) : bytes);
            _fileDocuments = ConfigFileParser.Parse(_options.FileFormat, text, _options.Profiles);
            _fileHash = hash;
            return true;
        }
        catch (FormatException ex)
        {
            error = $"'{path}': {ex.Message}";
            return false;
        }
    }

    /// <summary>The seed file's values (CONFIG_SEED_FILE); null when none is set. A file that cannot be read or parsed stops the start.</summary>
    private Dictionary<string, string>? ReadSeed()
    {
        if (_options.SeedFile is not { } path)
        {
            return null;
        }

        try
        {
            var bytes = File.ReadAllBytes(path);
            var text = Encoding.UTF8.GetString(bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes.AsSpan(3) : bytes);
            // Its documents as the file's: the later ones over the earlier ones.
            var documents = ConfigFileParser.Parse(_options.SeedFileFormat, text, _options.Profiles);
            documents.Reverse();
            return PropertySourceMerger.Merge(documents);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidConfigurationException([$"{AgentVariables.Describe("AppConfig:SeedFile")}: '{path}' does not exist"]);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidConfigurationException([$"{AgentVariables.Describe("AppConfig:SeedFile")}: cannot read '{path}': {ex.Message}"]);
        }
        catch (FormatException ex)
        {
            throw new InvalidConfigurationException([$"{AgentVariables.Describe("AppConfig:SeedFile")}: '{path}': {ex.Message}"]);
        }
    }

    private void Save(ConfigFetchResult fetched)
    {
        var snapshot = _store.Current;
        var serverHash = AppConfigSnapshot.Hash(_serverValues!);
        var key = (snapshot.Version, serverHash, fetched.Environment!.Version);
        if (_saved == key)
        {
            return;
        }

        if (_serverValues!.Count == 0 && _savedKeys > 0)
        {
            // Served, but not saved over a copy that has keys (NoteEmptyAnswer said so): an empty answer
            // is most likely a misspelt name, and the copy is what a start with the server down serves.
            return;
        }

        var copy = new LastKnownGoodCopy
        {
            Application = _options.AppName!,
            Profiles = _options.Profiles,
            Labels = _options.Labels,
            Server = fetched.Server,
            Label = fetched.Environment.Label ?? fetched.Label,
            ServerVersion = fetched.Environment.Version,
            ConfigVersion = snapshot.Version,
            EffectiveHash = snapshot.ContentHash,
            SavedAt = _time.GetUtcNow(),
            Values = _serverValues!,
        };

        if (_lastKnownGood.TrySave(copy))
        {
            _saved = key;
            _savedKeys = copy.Values.Count;
        }
    }

    // docs/config-server.md#response: an unknown application answers 200 with no property sources. By the
    // protocol that is a good load, and it is served; but it is most likely a misspelt APP_NAME,
    // profile or label, so say so (once per streak), naming what was asked for.
    private void NoteEmptyAnswer(ConfigFetchResult fetched)
    {
        var empty = _serverValues!.Count == 0;
        if (empty && !_emptyAnswer)
        {
            LogEmptyAnswer(_logger, fetched.Server!, Identity(fetched.Environment!.Label ?? fetched.Label), fetched.Environment.Sources.Count,
                _savedKeys > 0 ? $"the last-known-good copy keeps its {_savedKeys} keys" : "there is no last-known-good copy with keys to keep");
        }

        _emptyAnswer = empty;
    }

    private void UpdateStatus()
    {
        var snapshot = _store.Current;
        var keys = $"{snapshot.Values.Count} keys, version {snapshot.Version}";
        var failure = LastFailures(_failure, _fileFailure);
        ReadinessResult status;
        if (_client is null)
        {
            status = _options.File is { } file
                ? new ReadinessResult(true, $"file: {file} ({keys}){failure}")
                : new ReadinessResult(true, "none: no CONFIG_FILE and no CONFIG_SERVER_URLS");
        }
        else if (_lastGood is { Environment: { } environment } good)
        {
            status = new ReadinessResult(true,
                $"server: {good.Server}{Describe(environment.Label ?? good.Label, environment.Version)} ({keys}) read {_since}{failure}");
        }
        else if (_serverValues is not null && _servingSeed)
        {
            status = new ReadinessResult(true,
                $"seed: {_options.SeedFile} ({keys}), served since {_since} because the Config Server gave no config: {_failure}{LastFailures(null, _fileFailure)}");
        }
        else if (_serverValues is not null)
        {
            status = new ReadinessResult(true,
                $"last-known-good: copy saved {_servedCopy?.SavedAt.ToString("u", CultureInfo.InvariantCulture)} from {_servedCopy?.Server} ({keys}), " +
                $"served since {_since} because the Config Server gave no config: {_failure}{LastFailures(null, _fileFailure)}");
        }
        else
        {
            status = new ReadinessResult(false,
                $"unavailable: no config from the Config Server and no last-known-good copy ({keys}){failure}");
        }

        _store.Status = status with { Detail = status.Detail + (_effective?.Problems() ?? "") };
    }

    private static string LastFailures(string? server, string? file) => (server, file) switch
    {
        (null, null) => "",
        (not null, not null) => $"; last refresh failed: {server}; {file}",
        _ => $"; last refresh failed: {server ?? file}",
    };

    private static string Describe(string? label, string? version) =>
        (label is null ? "" : $" label {label}") + (version is null ? "" : $" version {version}");

    private string Identity(string? label) =>
        $"{_options.AppName}/{string.Join(',', _options.Profiles)}" + (label is null ? "" : "/" + label);

    private string Now() => _time.GetUtcNow().ToString("u", CultureInfo.InvariantCulture);

    private static string Names(IReadOnlyList<string> keys) => keys.Count <= MaxKeysLogged
        ? string.Join(", ", keys)
        : string.Join(", ", keys.Take(MaxKeysLogged)) + $" and {keys.Count - MaxKeysLogged} more";

    [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "Config loaded from {Server} for {Identity}: server version {ServerVersion}, {Sources} property sources, {Count} keys, config version {Version}")]
    private static partial void LogLoaded(ILogger logger, string server, string identity, string serverVersion, int sources, int count, long version);

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "No config from the Config Server ({Error}); serving the last-known-good copy {Path} saved {SavedAt} from {Server}: {Count} keys, config version {Version}")]
    private static partial void LogServingLastKnownGood(ILogger logger, string error, string path, string savedAt, string server, int count, long version);

    [LoggerMessage(EventId = 404, Level = LogLevel.Warning, Message = "No config from the Config Server ({Error}) and no last-known-good copy: serving {Serving}, {Retry}")]
    private static partial void LogNoConfig(ILogger logger, string error, string serving, string retry);

    [LoggerMessage(EventId = 405, Level = LogLevel.Information, Message = "Config file {Path} read: {Count} keys")]
    private static partial void LogFileLoaded(ILogger logger, string path, int count);

    [LoggerMessage(EventId = 406, Level = LogLevel.Information, Message = "Config changed, version {Previous} -> {Version}: added [{Added}], changed [{Changed}], removed [{Removed}]")]
    private static partial void LogChanged(ILogger logger, long previous, long version, string added, string changed, string removed);

    [LoggerMessage(EventId = 407, Level = LogLevel.Warning, Message = "Config refresh failed, still serving version {Version}: {Error}")]
    private static partial void LogRefreshFailed(ILogger logger, long version, string error);

    [LoggerMessage(EventId = 408, Level = LogLevel.Debug, Message = "Config refresh still failing, still serving version {Version}: {Error}")]
    private static partial void LogRefreshStillFailing(ILogger logger, long version, string error);

    [LoggerMessage(EventId = 409, Level = LogLevel.Information, Message = "Config server {Server} answers again")]
    private static partial void LogRecovered(ILogger logger, string server);

    [LoggerMessage(EventId = 410, Level = LogLevel.Warning, Message = "Config file {Path} not re-read, keeping its previous values: {Error}")]
    private static partial void LogFileFailed(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 416, Level = LogLevel.Debug, Message = "Config file {Path} still not re-read, keeping its previous values: {Error}")]
    private static partial void LogFileStillFailing(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 417, Level = LogLevel.Information, Message = "Config file {Path} read again: {Count} keys")]
    private static partial void LogFileRecovered(ILogger logger, string path, int count);

    [LoggerMessage(EventId = 418, Level = LogLevel.Warning, Message = "Config server {Server} has no keys for {Identity} ({Sources} property sources): is APP_NAME, CONFIG_PROFILE or CONFIG_LABEL misspelt? Serving the empty answer; {Copy}")]
    private static partial void LogEmptyAnswer(ILogger logger, string server, string identity, int sources, string copy);

    [LoggerMessage(EventId = 411, Level = LogLevel.Warning, Message = "Config load attempt {Attempt}/{Attempts} failed ({Error}); retrying in {Delay}")]
    private static partial void LogRetrying(ILogger logger, int attempt, int attempts, string error, string delay);

    [LoggerMessage(EventId = 412, Level = LogLevel.Error, Message = "Config refresh error; polling goes on")]
    private static partial void LogRefreshError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 413, Level = LogLevel.Information, Message = "Re-reading config every {Interval}")]
    private static partial void LogPolling(ILogger logger, string interval);

    [LoggerMessage(EventId = 414, Level = LogLevel.Information, Message = "Config polling is off (CONFIG_POLL_INTERVAL=0)")]
    private static partial void LogPollingOff(ILogger logger);

    [LoggerMessage(EventId = 430, Level = LogLevel.Warning, Message = "Config values not decrypted, served empty: {Keys} ({Reason})")]
    private static partial void LogNotDecrypted(ILogger logger, string keys, string reason);

    [LoggerMessage(EventId = 431, Level = LogLevel.Warning, Message = "The Config Server could not decrypt {Keys} (it serves them as invalid.* with the value <n/a>): check its encrypt key")]
    private static partial void LogServerCouldNotDecrypt(ILogger logger, string keys);

    [LoggerMessage(EventId = 432, Level = LogLevel.Warning, Message = "Config placeholders that cannot be resolved, served as written, in: {Keys}")]
    private static partial void LogUnresolved(ILogger logger, string keys);

    [LoggerMessage(EventId = 415, Level = LogLevel.Debug, Message = "Config unchanged: version {Version}, server version {ServerVersion}")]
    private static partial void LogUnchanged(ILogger logger, long version, string serverVersion);

    [LoggerMessage(EventId = 449, Level = LogLevel.Warning, Message = "No config from the Config Server ({Error}) and no last-known-good copy: serving the seed file {Path} ({Count} keys) until a server answers")]
    private static partial void LogServingSeed(ILogger logger, string error, string path, int count);
}

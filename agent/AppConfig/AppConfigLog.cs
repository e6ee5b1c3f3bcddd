namespace Sidecar.AppConfig;

/// <summary>
/// The log lines of <see cref="AppConfigRefresher"/> (docs/config-server.md#values-and-the-log), written
/// under its category: keys by name only, never values.
/// </summary>
internal static partial class AppConfigLog
{
    private const int MaxKeysLogged = 20;

    /// <summary>Key names for a change line: the first 20, then how many more.</summary>
    internal static string Names(IReadOnlyList<string> keys) => keys.Count <= MaxKeysLogged
        ? string.Join(", ", keys)
        : string.Join(", ", keys.Take(MaxKeysLogged)) + $" and {keys.Count - MaxKeysLogged} more";

    /// <summary>What was asked for: the application, its profiles and the label.</summary>
    internal static string Identity(AppConfigOptions options, string? label) =>
        $"{options.AppName}/{string.Join(',', options.Profiles)}" + (label is null ? "" : "/" + label);

    [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "Config loaded from {Server} for {Identity}: server version {ServerVersion}, {Sources} property sources, {Count} keys, config version {Version}")]
    internal static partial void LogLoaded(ILogger logger, string server, string identity, string serverVersion, int sources, int count, long version);

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "No config from the Config Server ({Error}); serving the last-known-good copy {Path} saved {SavedAt} from {Server}: {Count} keys, config version {Version}")]
    internal static partial void LogServingLastKnownGood(ILogger logger, string error, string path, string savedAt, string server, int count, long version);

    [LoggerMessage(EventId = 404, Level = LogLevel.Warning, Message = "No config from the Config Server ({Error}) and no last-known-good copy: serving {Serving}, {Retry}")]
    internal static partial void LogNoConfig(ILogger logger, string error, string serving, string retry);

    [LoggerMessage(EventId = 405, Level = LogLevel.Information, Message = "Config file {Path} read: {Count} keys")]
    internal static partial void LogFileLoaded(ILogger logger, string path, int count);

    [LoggerMessage(EventId = 406, Level = LogLevel.Information, Message = "Config changed, version {Previous} -> {Version}: added [{Added}], changed [{Changed}], removed [{Removed}]")]
    internal static partial void LogChanged(ILogger logger, long previous, long version, string added, string changed, string removed);

    [LoggerMessage(EventId = 407, Level = LogLevel.Warning, Message = "Config refresh failed, still serving version {Version}: {Error}")]
    internal static partial void LogRefreshFailed(ILogger logger, long version, string error);

    [LoggerMessage(EventId = 408, Level = LogLevel.Debug, Message = "Config refresh still failing, still serving version {Version}: {Error}")]
    internal static partial void LogRefreshStillFailing(ILogger logger, long version, string error);

    [LoggerMessage(EventId = 409, Level = LogLevel.Information, Message = "Config server {Server} answers again")]
    internal static partial void LogRecovered(ILogger logger, string server);

    [LoggerMessage(EventId = 410, Level = LogLevel.Warning, Message = "Config file {Path} not re-read, keeping its previous values: {Error}")]
    internal static partial void LogFileFailed(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 416, Level = LogLevel.Debug, Message = "Config file {Path} still not re-read, keeping its previous values: {Error}")]
    internal static partial void LogFileStillFailing(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 417, Level = LogLevel.Information, Message = "Config file {Path} read again: {Count} keys")]
    internal static partial void LogFileRecovered(ILogger logger, string path, int count);

    [LoggerMessage(EventId = 418, Level = LogLevel.Warning, Message = "Config server {Server} has no keys for {Identity} ({Sources} property sources): is APP_NAME, CONFIG_PROFILE or CONFIG_LABEL misspelt? Serving the empty answer; {Copy}")]
    internal static partial void LogEmptyAnswer(ILogger logger, string server, string identity, int sources, string copy);

    [LoggerMessage(EventId = 411, Level = LogLevel.Warning, Message = "Config load attempt {Attempt}/{Attempts} failed ({Error}); retrying in {Delay}")]
    internal static partial void LogRetrying(ILogger logger, int attempt, int attempts, string error, string delay);

    [LoggerMessage(EventId = 412, Level = LogLevel.Error, Message = "Config refresh error; polling goes on")]
    internal static partial void LogRefreshError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 413, Level = LogLevel.Information, Message = "Re-reading config every {Interval}")]
    internal static partial void LogPolling(ILogger logger, string interval);

    [LoggerMessage(EventId = 414, Level = LogLevel.Information, Message = "Config polling is off (CONFIG_POLL_INTERVAL=0)")]
    internal static partial void LogPollingOff(ILogger logger);

    [LoggerMessage(EventId = 430, Level = LogLevel.Warning, Message = "Config values not decrypted, served empty: {Keys} ({Reason})")]
    internal static partial void LogNotDecrypted(ILogger logger, string keys, string reason);

    [LoggerMessage(EventId = 431, Level = LogLevel.Warning, Message = "The Config Server could not decrypt {Keys} (it serves them as invalid.* with the value <n/a>): check its encrypt key")]
    internal static partial void LogServerCouldNotDecrypt(ILogger logger, string keys);

    [LoggerMessage(EventId = 432, Level = LogLevel.Warning, Message = "Config placeholders that cannot be resolved, served as written, in: {Keys}")]
    internal static partial void LogUnresolved(ILogger logger, string keys);

    [LoggerMessage(EventId = 415, Level = LogLevel.Debug, Message = "Config unchanged: version {Version}, server version {ServerVersion}")]
    internal static partial void LogUnchanged(ILogger logger, long version, string serverVersion);

    [LoggerMessage(EventId = 449, Level = LogLevel.Warning, Message = "No config from the Config Server ({Error}) and no last-known-good copy: serving the seed file {Path} ({Count} keys) until a server answers")]
    internal static partial void LogServingSeed(ILogger logger, string error, string path, int count);
}

using System.Globalization;
using Sidecar.Health;

namespace Sidecar.AppConfig;

/// <summary>
/// The <c>config</c> entry of <c>/v1/health</c> (docs/config-server.md#start and #refresh), as a value:
/// where the served config comes from, how many keys at which version, since when, and the last
/// failures. <see cref="ToReadiness"/> words it; no I/O.
/// </summary>
internal sealed record AppConfigStatus
{
    /// <summary>A Config Server is configured.</summary>
    public bool UsesServer { get; init; }

    /// <summary><c>CONFIG_FILE</c>, when set.</summary>
    public string? File { get; init; }

    public int Keys { get; init; }

    public long Version { get; init; }

    /// <summary>Where the server layer comes from.</summary>
    public ServerLayerSource Source { get; init; }

    /// <summary>The server that gave the last good answer, its label and version.</summary>
    public string? Server { get; init; }

    public string? Label { get; init; }

    public string? ServerVersion { get; init; }

    /// <summary><c>CONFIG_SEED_FILE</c>, when the seed is served.</summary>
    public string? SeedFile { get; init; }

    /// <summary>The last-known-good copy served: when it was saved and from which server.</summary>
    public DateTimeOffset? CopySavedAt { get; init; }

    public string? CopyServer { get; init; }

    /// <summary>When the served config was read (UTC, "u" format).</summary>
    public string Since { get; init; } = "";

    /// <summary>The Config Server's last error, null once it answers again.</summary>
    public string? Failure { get; init; }

    /// <summary>The file's last error, null once it is read again.</summary>
    public string? FileFailure { get; init; }

    /// <summary>What could not be decrypted or resolved (<see cref="EffectiveConfig.Problems"/>), appended as is.</summary>
    public string Problems { get; init; } = "";

    /// <summary>Ready unless a server is configured and neither it, a saved copy nor the seed gave a config.</summary>
    public ReadinessResult ToReadiness()
    {
        var keys = $"{Keys} keys, version {Version}";
        var failure = LastFailures(Failure, FileFailure);
        ReadinessResult status;
        if (!UsesServer)
        {
            status = File is { } file
                ? new ReadinessResult(true, $"file: {file} ({keys}){failure}")
                : new ReadinessResult(true, "none: no CONFIG_FILE and no CONFIG_SERVER_URLS");
        }
        else if (Source == ServerLayerSource.Server)
        {
            status = new ReadinessResult(true, $"server: {Server}{Describe(Label, ServerVersion)} ({keys}) read {Since}{failure}");
        }
        else if (Source == ServerLayerSource.Seed)
        {
            status = new ReadinessResult(true,
                $"seed: {SeedFile} ({keys}), served since {Since} because the Config Server gave no config: {Failure}{LastFailures(null, FileFailure)}");
        }
        else if (Source == ServerLayerSource.LastKnownGood)
        {
            status = new ReadinessResult(true,
                $"last-known-good: copy saved {CopySavedAt?.ToString("u", CultureInfo.InvariantCulture)} from {CopyServer} ({keys}), " +
                $"served since {Since} because the Config Server gave no config: {Failure}{LastFailures(null, FileFailure)}");
        }
        else
        {
            status = new ReadinessResult(false, $"unavailable: no config from the Config Server and no last-known-good copy ({keys}){failure}");
        }

        return status with { Detail = status.Detail + Problems };
    }

    private static string LastFailures(string? server, string? file) => (server, file) switch
    {
        (null, null) => "",
        (not null, not null) => $"; last refresh failed: {server}; {file}",
        _ => $"; last refresh failed: {server ?? file}",
    };

    private static string Describe(string? label, string? version) =>
        (label is null ? "" : $" label {label}") + (version is null ? "" : $" version {version}");
}

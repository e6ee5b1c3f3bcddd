using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.AppConfig;

/// <summary>
/// The last config loaded from the Config Server, kept in <c>SIDECAR_DATA_DIR</c> so a start with every
/// server down still serves it (docs/config-server.md#last-known-good-copy). The file is a header line
/// (<c>sidecar-config-lkg 1 sha256:{hex} {length}</c>) then the JSON payload: a torn, truncated or
/// edited file fails the length or checksum and is ignored, never served. It is written to a temp
/// file in the same folder, flushed, then renamed over the old one, so a crash mid-write leaves the
/// previous copy whole. Only the owner may read it: it holds the app's secrets. Neither read nor written
/// where <see cref="DataFolder"/> does not trust the folder or the file.
/// </summary>
internal sealed partial class LastKnownGoodStore(string directory, ILogger<LastKnownGoodStore> logger, DataFolder? folder = null)
{
    public const string FileName = "config.lkg";
    private const string Magic = "sidecar-config-lkg";
    private const int FormatVersion = 1;

    public string FilePath { get; } = Path.Combine(directory, FileName);

    /// <summary>Reads the saved copy for this app, profiles and labels; null (and a log line saying why) when there is none to trust.</summary>
    public LastKnownGoodCopy? TryRead(string application, IReadOnlyList<string> profiles, IReadOnlyList<string> labels)
    {
        byte[] bytes;
        try
        {
            if (!File.Exists(FilePath))
            {
                LogNone(logger, FilePath);
                return null;
            }

            if (folder?.MayRead(FilePath) == false)
            {
                return null;
            }

            bytes = File.ReadAllBytes(FilePath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogUnreadable(logger, FilePath, ex.Message);
            return null;
        }

        if (!TryDecode(bytes, out var copy, out var problem))
        {
            LogCorrupt(logger, FilePath, problem);
            return null;
        }

        if (copy.Application != application || !copy.Profiles.SequenceEqual(profiles) || !copy.Labels.SequenceEqual(labels))
        {
            LogOtherIdentity(logger, FilePath, Identity(copy.Application, copy.Profiles, copy.Labels), Identity(application, profiles, labels));
            return null;
        }

        return copy;
    }

    /// <summary>Replaces the saved copy atomically. Never throws: a read-only disk costs the copy, not the agent.</summary>
    public bool TrySave(LastKnownGoodCopy copy)
    {
        if (folder?.MayWrite() == false)
        {
            return false;
        }

        try
        {
            DataFiles.WriteAtomically(FilePath, Encode(copy));
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogSaveFailed(logger, FilePath, ex.Message);
            return false;
        }
    }

    internal static byte[] Encode(LastKnownGoodCopy copy)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(copy with { Format = FormatVersion }, AppConfigJsonContext.Default.LastKnownGoodCopy);
        var header = string.Create(CultureInfo.InvariantCulture, $"{Magic} {FormatVersion} sha256:{Convert.ToHexStringLower(SHA256.HashData(payload))} {payload.Length}\n");
        var result = new byte[Encoding.ASCII.GetByteCount(header) + payload.Length];
        var written = Encoding.ASCII.GetBytes(header, result);
        payload.CopyTo(result.AsSpan(written));
        return result;
    }

    internal static bool TryDecode(byte[] bytes, out LastKnownGoodCopy copy, out string problem)
    {
        copy = null!;
        var newline = Array.IndexOf(bytes, (byte)'\n');
        var header = newline > 0 && newline < 256 ? Encoding.ASCII.GetString(bytes, 0, newline).Split(' ') : [];
        if (header.Length != 4 || header[0] != Magic || !header[2].StartsWith("sha256:", StringComparison.Ordinal))
        {
            problem = "not a last-known-good config file (bad header)";
            return false;
        }

        if (header[1] != FormatVersion.ToString(CultureInfo.InvariantCulture))
        {
            problem = $"format {header[1]} is not the supported {FormatVersion}";
            return false;
        }

        var payload = bytes.AsMemory(newline + 1);
        if (!int.TryParse(header[3], NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length != payload.Length)
        {
            problem = $"truncated or extended: {payload.Length} bytes where the header says {header[3]}";
            return false;
        }

        if (!string.Equals(header[2]["sha256:".Length..], Convert.ToHexStringLower(SHA256.HashData(payload.Span)), StringComparison.Ordinal))
        {
            problem = "checksum mismatch (the file was damaged or edited)";
            return false;
        }

        try
        {
            var decoded = JsonSerializer.Deserialize(payload.Span, AppConfigJsonContext.Default.LastKnownGoodCopy);
            if (decoded is null || decoded.Format != FormatVersion)
            {
                problem = "the payload is not a config copy";
                return false;
            }

            copy = decoded;
            problem = "";
            return true;
        }
        catch (JsonException)
        {
            problem = "the payload is not valid JSON";
            return false;
        }
    }

    private static string Identity(string application, IReadOnlyList<string> profiles, IReadOnlyList<string> labels) =>
        $"{application}/{string.Join(',', profiles)}" + (labels.Count > 0 ? "/" + string.Join(',', labels) : "");

    [LoggerMessage(EventId = 420, Level = LogLevel.Debug, Message = "No last-known-good config copy at {Path}")]
    private static partial void LogNone(ILogger logger, string path);

    [LoggerMessage(EventId = 421, Level = LogLevel.Warning, Message = "Cannot read the last-known-good config copy {Path}: {Error}")]
    private static partial void LogUnreadable(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 422, Level = LogLevel.Warning, Message = "Ignoring the last-known-good config copy {Path}: {Problem}")]
    private static partial void LogCorrupt(ILogger logger, string path, string problem);

    [LoggerMessage(EventId = 423, Level = LogLevel.Warning, Message = "Ignoring the last-known-good config copy {Path}: it is for {Saved}, not {Wanted}")]
    private static partial void LogOtherIdentity(ILogger logger, string path, string saved, string wanted);

    [LoggerMessage(EventId = 424, Level = LogLevel.Warning, Message = "Cannot save the last-known-good config copy {Path}: {Error}")]
    private static partial void LogSaveFailed(ILogger logger, string path, string error);
}

/// <summary>What the last-known-good file holds: who it is for, where it came from, and the server's merged values.</summary>
internal sealed record LastKnownGoodCopy
{
    [JsonPropertyName("format")]
    public int Format { get; init; }

    [JsonPropertyName("application")]
    public required string Application { get; init; }

    [JsonPropertyName("profiles")]
    public required IReadOnlyList<string> Profiles { get; init; }

    [JsonPropertyName("labels")]
    public required IReadOnlyList<string> Labels { get; init; }

    [JsonPropertyName("server")]
    public string? Server { get; init; }

    [JsonPropertyName("label")]
    public string? Label { get; init; }

    [JsonPropertyName("serverVersion")]
    public string? ServerVersion { get; init; }

    /// <summary>The agent's config version when saved, so the version (and ETag) goes on growing across restarts.</summary>
    [JsonPropertyName("configVersion")]
    public long ConfigVersion { get; init; }

    /// <summary>Hash of the effective config (file + server) of that version: equal at the next start, same version.</summary>
    [JsonPropertyName("effectiveHash")]
    public string EffectiveHash { get; init; } = "";

    [JsonPropertyName("savedAt")]
    public DateTimeOffset SavedAt { get; init; }

    /// <summary>The server's property sources merged (first source wins); the file is re-read at each start.</summary>
    [JsonPropertyName("values")]
    public required IReadOnlyDictionary<string, string> Values { get; init; }
}

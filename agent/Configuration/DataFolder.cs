using System.Globalization;
using Sidecar.Platform;

namespace Sidecar.Configuration;

/// <summary>
/// <c>SIDECAR_DATA_DIR</c> as far as the agent trusts it (docs/configuration.md#data-folder). What is
/// kept there (the last-known-good config, the registry snapshot, the marker of a status override the
/// agent left in Eureka) is served, routed to or acted on at the next start, so it is read only when the folder and the file belong to the agent's own user and nobody
/// else may write them: another local user who made the folder first, or a folder open to a group or
/// to everyone, could otherwise plant a config or a registry. A refused folder or file costs that copy
/// (one warning, once), never the start; nothing is written to a refused folder. Linux only.
/// </summary>
internal sealed partial class DataFolder(SidecarOptions sidecar, ILogger<DataFolder> logger)
{
    private readonly Lock _lock = new();
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);

    public string Path => sidecar.DataDir;

    /// <summary>True when <paramref name="file"/> (in this folder) may be read; a file that is not there may (the reader finds nothing).</summary>
    public bool MayRead(string file)
    {
        if (Refusal(Path, folder: true) is { } folderReason)
        {
            return Refused(Path, folderReason);
        }

        return Refusal(file, folder: false) is not { } reason || Refused(file, reason);
    }

    /// <summary>True when copies may be written to this folder (it is the agent's own, or not there yet: it is then made 0700).</summary>
    public bool MayWrite() => Refusal(Path, folder: true) is not { } reason || Refused(Path, reason);

    /// <summary>Why <paramref name="path"/> must not be trusted; null when it may be (or does not exist, or the platform cannot tell).</summary>
    internal static string? Refusal(string path, bool folder)
    {
        if (!UnixFiles.Supported || UnixFiles.Stat(path) is not { } stat)
        {
            return null;
        }

        if (folder ? !stat.IsDirectory : !stat.IsFile)
        {
            return folder ? "it is not a folder" : "it is not a regular file";
        }

        var agent = UnixFiles.EffectiveUserId;
        if (stat.Owner != agent)
        {
            return string.Create(CultureInfo.InvariantCulture, $"it belongs to user {stat.Owner}, not to the agent's user {agent}");
        }

        if ((stat.Mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
        {
            return "other users may write it (mode " + Convert.ToString((int)stat.Mode, 8).PadLeft(4, '0') + ")";
        }

        return null;
    }

    private bool Refused(string path, string reason)
    {
        lock (_lock)
        {
            if (_warned.Add(path + "\n" + reason))
            {
                LogRefused(logger, path, reason);
            }
        }

        return false;
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "Not using {Path}: {Reason}. The agent goes on without what is kept there (last-known-good config, registry snapshot, override marker); give it a folder of its own (SIDECAR_DATA_DIR, mode 0700)")]
    private static partial void LogRefused(ILogger logger, string path, string reason);
}

using System.Text.Json;
using Sidecar.Configuration;
using Sidecar.Eureka;
using Sidecar.Platform;

namespace Sidecar.Discovery;

/// <summary>
/// The last good registry on disk (<c>SIDECAR_DATA_DIR/eureka-registry.json</c>, Eureka's own JSON),
/// so an agent restarted while every Eureka server is down can still route. Written atomically
/// (a temporary file renamed over the old one): a crash mid-write leaves the previous snapshot whole.
/// Neither read nor written where <see cref="DataFolder"/> does not trust the folder or the file.
/// </summary>
internal sealed partial class RegistrySnapshotStore(SidecarOptions sidecar, DataFolder folder, ILogger<RegistrySnapshotStore> logger)
{
    public const string FileName = "eureka-registry.json";

    public string FilePath { get; } = Path.Combine(sidecar.DataDir, FileName);

    /// <summary>Writes the snapshot; a failure (read-only disk, no space) is logged and costs nothing else.</summary>
    public bool Save(EurekaApplications applications)
    {
        if (!folder.MayWrite())
        {
            return false;
        }

        try
        {
            DataFiles.WriteAtomically(FilePath, EurekaJsonWriter.Applications(applications));
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogSaveFailed(logger, FilePath, ex.Message);
            return false;
        }
    }

    /// <summary>The saved registry and when it was saved; null when there is none or it cannot be read.</summary>
    public (EurekaApplications Applications, DateTimeOffset SavedAt)? Load()
    {
        try
        {
            if (!File.Exists(FilePath) || !folder.MayRead(FilePath))
            {
                return null;
            }

            var bytes = File.ReadAllBytes(FilePath);
            var savedAt = new DateTimeOffset(File.GetLastWriteTimeUtc(FilePath), TimeSpan.Zero);
            return (EurekaJsonReader.ReadApplications(bytes), savedAt);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            LogLoadFailed(logger, FilePath, ex.Message);
            return null;
        }
    }

    [LoggerMessage(EventId = 260, Level = LogLevel.Warning, Message = "Could not save the registry snapshot to {Path}: {Error}")]
    private static partial void LogSaveFailed(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 261, Level = LogLevel.Warning, Message = "Could not read the registry snapshot {Path}: {Error}")]
    private static partial void LogLoadFailed(ILogger logger, string path, string error);
}

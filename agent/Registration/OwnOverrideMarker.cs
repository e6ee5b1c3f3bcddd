using System.Text;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Registration;

/// <summary>
/// Remembers, in <c>SIDECAR_DATA_DIR</c>, that this agent set an OUT_OF_SERVICE override in Eureka that
/// it has not removed yet (the app's <c>PUT /v1/registration/status</c>, or a drain cut short before the
/// cancel). On the next start only such an override is removed: one an operator set through Eureka's
/// REST API is theirs and stays (docs/eureka.md#overrides-left-from-before-a-start). The file holds the app and instance id, so
/// a folder shared by mistake never makes one instance remove another's override. Never throws: a disk
/// that refuses only costs the removal on the next start. Neither read nor written where
/// <see cref="DataFolder"/> does not trust the folder or the file: a planted marker would have an
/// operator's override removed.
/// </summary>
internal sealed partial class OwnOverrideMarker(string path, ILogger logger, DataFolder? folder = null)
{
    public const string FileName = "eureka-override";

    public string FilePath => path;

    /// <summary>This agent set an override on <paramref name="app"/>/<paramref name="instanceId"/>.</summary>
    public void Remember(string app, string instanceId)
    {
        if (folder?.MayWrite() == false)
        {
            return;
        }

        try
        {
            DataFiles.WriteAtomically(path, Encoding.UTF8.GetBytes(Line(app, instanceId)));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogRememberFailed(logger, path, ex.Message);
        }
    }

    /// <summary>The override is gone (removed, or the lease cancelled, which drops it).</summary>
    public void Forget()
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogForgetFailed(logger, path, ex.Message);
        }
    }

    /// <summary>Whether this agent (an earlier run of it) left the override on <paramref name="app"/>/<paramref name="instanceId"/>.</summary>
    public bool LeftBy(string app, string instanceId)
    {
        try
        {
            return File.Exists(path) && folder?.MayRead(path) != false && File.ReadAllText(path, Encoding.UTF8) == Line(app, instanceId);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string Line(string app, string instanceId) => $"OUT_OF_SERVICE {app} {instanceId}\n";

    [LoggerMessage(EventId = 231, Level = LogLevel.Warning, Message = "Could not remember the status override in {Path} ({Error}): the next start will leave it in place")]
    private static partial void LogRememberFailed(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 232, Level = LogLevel.Warning, Message = "Could not delete {Path} ({Error}): the next start may remove an override this agent sets again")]
    private static partial void LogForgetFailed(ILogger logger, string path, string error);
}

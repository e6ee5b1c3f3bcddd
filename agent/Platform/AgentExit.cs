namespace Sidecar.Platform;

/// <summary>
/// How this run of the agent ends, shared by the parts that decide it: in supervisor mode the
/// app's exit code becomes the agent's, and an app that is already gone needs no drain.
/// </summary>
internal sealed class AgentExit
{
    /// <summary>The exit code of a bad setting or command line: one line on stderr, exit code 2 (docs/configuration.md).</summary>
    public const int ConfigurationError = 2;

    private int? _code;
    private int _appGone;
    private int _startFailed;

    /// <summary>The process exit code to use, when something decided one (else 0).</summary>
    public int? Code => _code;

    /// <summary>True when the supervised app has exited: shutdown skips the drain (nobody is left to drain for).</summary>
    public bool AppGone => Volatile.Read(ref _appGone) == 1;

    /// <summary>True when shutdown needs no drain: the supervised app is gone, or the agent never finished starting (nothing was served).</summary>
    public bool SkipDrain => AppGone || Volatile.Read(ref _startFailed) == 1;

    public void AppExited(int exitCode)
    {
        _code = exitCode;
        Volatile.Write(ref _appGone, 1);
    }

    public void SetCode(int exitCode) => _code = exitCode;

    /// <summary>The start failed or was cancelled: the host is stopped without a drain.</summary>
    public void StartFailed() => Volatile.Write(ref _startFailed, 1);
}

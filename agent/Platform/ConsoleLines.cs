namespace Sidecar.Platform;

/// <summary>
/// Whole lines onto the process's stdout and stderr. The agent's log batches (<see cref="BufferedConsoleSink"/>)
/// and the supervised app's output (<c>Supervisor.AppProcess</c>) share one stdout: each writer holds
/// <see cref="StdoutLock"/> from the first byte of its lines to the flush after the last, so a collector
/// reading the container's stream never finds an agent line inside one of the app's.
/// </summary>
internal static class ConsoleLines
{
    /// <summary>Held while whole lines are written to stdout and flushed.</summary>
    public static readonly Lock StdoutLock = new();

    /// <summary>Held while whole lines are written to stderr and flushed.</summary>
    public static readonly Lock StderrLock = new();
}

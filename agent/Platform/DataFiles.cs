namespace Sidecar.Platform;

/// <summary>
/// Files the agent keeps in <c>SIDECAR_DATA_DIR</c> (the last-known-good config, the registry snapshot):
/// written atomically, so a crash mid-write leaves the previous copy whole, and readable by the agent's
/// user only (config copies can hold secrets).
/// </summary>
internal static class DataFiles
{
    private const UnixFileMode OwnerDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Writes a temporary file beside <paramref name="path"/>, flushes it to disk, then renames it over the old one.</summary>
    /// <exception cref="IOException">The disk refused (read-only, full).</exception>
    /// <exception cref="UnauthorizedAccessException">The folder is not the agent's to write.</exception>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> contents)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temporary = Path.Combine(directory, $"{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                CreatePrivateDirectory(directory);
                options.UnixCreateMode = OwnerFile;
            }

            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(contents);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw;
        }
    }

    // Every missing level 0700, not only the last (Directory.CreateDirectory gives the others 0755): the
    // per-user root /tmp/sidecar-agent-{uid} is nobody else's to list either.
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void CreatePrivateDirectory(string directory)
    {
        var missing = new Stack<string>();
        for (var level = directory; !string.IsNullOrEmpty(level) && !Directory.Exists(level); level = Path.GetDirectoryName(level))
        {
            missing.Push(level);
        }

        while (missing.TryPop(out var level))
        {
            Directory.CreateDirectory(level, OwnerDirectory);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // best effort: a stray temporary file is harmless and never read
        }
    }
}

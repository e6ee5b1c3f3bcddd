using System.Diagnostics;

namespace Sidecar.Tests.Support;

/// <summary>
/// Debian's headless <c>chromium</c> (installed by <c>.ci/run</c>), run with the flags this machine
/// needs: no sandbox (root in a container), no GPU, no QUIC, no background traffic, a fresh profile.
/// </summary>
public static class Chromium
{
    /// <summary>The browser's path, or null when none is installed.</summary>
    public static readonly string? Path = Find();

    /// <summary>Runs chromium on <paramref name="url"/> with extra arguments; returns its stdout (e.g. the DOM for <c>--dump-dom</c>).</summary>
    public static async Task<string> RunAsync(Uri url, params string[] arguments)
    {
        Assert.NotNull(Path);
        var profile = Directory.CreateTempSubdirectory("sidecar-chromium-");
        try
        {
            var start = new ProcessStartInfo(Path)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[]
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile.FullName,
            }.Concat(arguments).Append(url.AbsoluteUri))
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail("chromium did not finish within 60 s: " + await stderr);
            }

            Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}: {await stderr}");
            return await stdout;
        }
        finally
        {
            try
            {
                profile.Delete(recursive: true);
            }
            catch (IOException)
            {
                // a helper process may still hold a file: the temp dir is cleaned later
            }
        }
    }

    private static string? Find()
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(System.IO.Path.PathSeparator))
        {
            foreach (var name in new[] { "chromium", "chromium-browser" })
            {
                var candidate = System.IO.Path.Combine(directory, name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}

/// <summary>A fact that needs chromium: skipped, saying why, only where none is installed (.ci/run installs it).</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (Chromium.Path is null)
        {
            Skip = "chromium is not installed (apt-get install -y chromium; .ci/run does it)";
        }
    }
}

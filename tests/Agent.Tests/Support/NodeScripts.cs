using System.Diagnostics;

namespace Sidecar.Tests.Support;

/// <summary>
/// A folder of node scripts with its own npm packages (package-lock.json pins them): .ci/run installs them
/// with <c>npm ci</c>, and so does the first test that needs them here. Runs a script to its end.
/// </summary>
internal sealed class NodeScripts(string folder, string package)
{
    private readonly SemaphoreSlim _installing = new(1, 1);

    public string Folder { get; } = folder;

    /// <summary>Runs <c>npm ci</c> once, when <paramref name="package"/> is not installed yet.</summary>
    public async Task EnsureInstalledAsync()
    {
        await _installing.WaitAsync();
        try
        {
            if (File.Exists(Path.Combine(Folder, "node_modules", package, "package.json")))
            {
                return;
            }

            var (exitCode, stdout, stderr) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], TimeSpan.FromMinutes(3), "npm ci");
            Assert.True(exitCode == 0, $"npm ci in {Folder} failed: {stdout} {stderr}");
        }
        finally
        {
            _installing.Release();
        }
    }

    /// <summary>Runs <c>node</c> with <paramref name="arguments"/> to its end (30 s at most: then the test fails with both outputs and <paramref name="context"/>).</summary>
    public async Task<(int ExitCode, string Stdout, string Stderr)> NodeAsync(IEnumerable<string> arguments, string what, Func<string>? context = null)
    {
        await EnsureInstalledAsync();
        return await RunAsync("node", arguments, TimeSpan.FromSeconds(30), what, context);
    }

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string program, IEnumerable<string> arguments, TimeSpan limit, string what, Func<string>? context = null)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{what} did not finish within {limit.TotalSeconds:0} s: {await stdout} {await stderr}{(context is null ? "" : "; " + context())}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}

using System.Diagnostics;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Examples;

/// <summary>The README's first command, in its non-interactive form, with the agent this test run built.</summary>
public sealed class DemoTests
{
    [Fact]
    public async Task TheDemo_WalksThroughEveryStep_AndStopsCleanly()
    {
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repository.Root,
        };
        start.ArgumentList.Add(Repository.PathOf("examples", "demo.py"));
        start.Environment["SIDECAR_AGENT_DLL"] = AgentProcess.AgentDll;
        using var demo = Process.Start(start)!;
        var stdout = demo.StandardOutput.ReadToEndAsync();
        var stderr = demo.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await demo.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            demo.Kill(entireProcessTree: true);
            Assert.Fail("the demo did not finish in 3 minutes: " + await stdout);
        }

        var output = await stdout + await stderr;
        Assert.True(demo.ExitCode == 0, output);
        Assert.Contains("127.0.0.1:python-app:", output, StringComparison.Ordinal);
        Assert.Contains("'peer': {'from': 'node-app', 'text': 'hello'}", output, StringComparison.Ordinal);
        Assert.Contains("'peer': {'from': 'python-app', 'message': \"hello from python-app's config file\"}", output, StringComparison.Ordinal);
        Assert.Contains("'text': 'bonjour'", output, StringComparison.Ordinal);
        Assert.Contains("503 no-instance", output, StringComparison.Ordinal);
        Assert.Contains("[6] node-app heals", output, StringComparison.Ordinal);
        Assert.Contains("demo: finished", output, StringComparison.Ordinal);
        Assert.DoesNotContain("timed out waiting", output, StringComparison.Ordinal);
    }
}

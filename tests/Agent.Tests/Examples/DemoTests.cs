using System.Diagnostics;
using System.Text.RegularExpressions;
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

        // Readable: the children's output reaches the console in a bounded share (all of it is in the demo's *.log files).
        Assert.True(output.Length < 200_000, $"the demo printed {output.Length} chars");
        var logs = Directory.GetFiles(Regex.Match(output, @"demo: finished \(logs in (?<dir>[^)]+)\)").Groups["dir"].Value, "*.log");
        var withGrpc = Tools.Find("npm") is not null;
        string[] expected = ["node-app.log", "python-app.log", "registry.log", .. PostgresServer.Unavailable is null ? ["postgres.log"] : Array.Empty<string>(), .. withGrpc ? ["greeter.log"] : Array.Empty<string>()];
        Assert.Equal(expected.Order(StringComparer.Ordinal), logs.Select(Path.GetFileName).Order(StringComparer.Ordinal));
        if (withGrpc)
        {
            // examples/node-grpc: registered with a gRPC health check, called through python-app's agent's gRPC port, DOWN when NOT_SERVING.
            Assert.Contains("127.0.0.1:greeter:", output, StringComparison.Ordinal);
            Assert.Contains("{'message': 'hello demo', 'server': 'greeter:", output, StringComparison.Ordinal);
            Assert.Matches(@"NOT_SERVING: Eureka: GREETER +127\.0\.0\.1:greeter:\d+ DOWN", output);
            Assert.Contains("{'message': 'hello demo again'", output, StringComparison.Ordinal);
        }

        if (PostgresServer.Unavailable is null)
        {
            // examples/postgres: registered with a TCP health check, reached by python-app through its agent's TCP listener.
            Assert.Contains("127.0.0.1:postgres:", output, StringComparison.Ordinal);
            Assert.Contains("'database': 'postgres'", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task CtrlCDuringTheBuild_StopsWithOneLine_NoTraceback()
    {
        // A dotnet that only "builds" (sleeps), first on PATH: the demo builds when no agent is given.
        var bin = Directory.CreateTempSubdirectory("demo-fake-dotnet").FullName;
        var fake = Path.Combine(bin, "dotnet");
        await File.WriteAllTextAsync(fake, "#!/bin/sh\nexec sleep 60\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repository.Root,
        };
        start.ArgumentList.Add(Repository.PathOf("examples", "demo.py"));
        start.Environment.Remove("SIDECAR_AGENT_DLL");
        start.Environment["PATH"] = bin + Path.PathSeparator + System.Environment.GetEnvironmentVariable("PATH");
        using var demo = Process.Start(start)!;
        var stdout = new System.Text.StringBuilder();
        demo.OutputDataReceived += (_, e) =>
        {
            lock (stdout)
            {
                stdout.AppendLine(e.Data);
            }
        };
        demo.BeginOutputReadLine();
        var stderr = demo.StandardError.ReadToEndAsync();
        try
        {
            await Eventually.TrueAsync(() =>
            {
                lock (stdout)
                {
                    return stdout.ToString().Contains("[0] Building the agent", StringComparison.Ordinal);
                }
            }, "the demo started its build", TimeSpan.FromSeconds(30));
            await Task.Delay(300); // into subprocess.run's wait for the (fake) build

            Assert.Equal(0, Kill(demo.Id, SigInt)); // what Ctrl-C sends
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await demo.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!demo.HasExited)
            {
                demo.Kill(entireProcessTree: true);
            }

            Directory.Delete(bin, recursive: true);
        }

        var output = stdout + await stderr;
        Assert.Equal(130, demo.ExitCode);
        Assert.Contains("demo: stopped during the build (Ctrl-C); nothing was started", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Traceback", output, StringComparison.Ordinal);
    }

    private const int SigInt = 2;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

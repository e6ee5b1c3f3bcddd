using System.Diagnostics;

namespace Sidecar.Tests.Support;

/// <summary>The agent as a real child process (the built agent.dll under <c>dotnet</c>), for what only a process shows: exit codes, stderr, signals.</summary>
public sealed class AgentProcess : IAsyncDisposable
{
    // The start-up line (docs/operations.md#listeners-and-security-defaults): the listeners' addresses, then "ready".
    private static readonly System.Text.RegularExpressions.Regex ListeningLine =
        new(@" listening on (?<addresses>http://[^\s,]+(?:, http://[^\s,]+)*)(?:, tcp://[^\s,]+)*, ready");

    private readonly Process _process;
    // Capped (CappedLog): a misbehaving agent cannot fill the test's memory or, through saved logs, the disk.
    private readonly CappedLog _stdout = new();
    private readonly CappedLog _stderr = new();

    private AgentProcess(Process process)
    {
        _process = process;
    }

    public static string AgentDll => Path.Combine(AppContext.BaseDirectory, "agent.dll");

    public string Stdout => _stdout.ToString();

    public string Stderr => _stderr.ToString();

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts the agent with exactly <paramref name="environment"/> added to a minimal environment.</summary>
    public static AgentProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartWithRuntimeConfig(environment, null, args);

    /// <summary>As <see cref="Start"/>, with another runtimeconfig.json (e.g. one that allows a startup hook).</summary>
    public static AgentProcess StartWithRuntimeConfig(IReadOnlyDictionary<string, string> environment, string? runtimeConfig, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add("exec");
        if (runtimeConfig is not null)
        {
            start.ArgumentList.Add("--runtimeconfig");
            start.ArgumentList.Add(runtimeConfig);
        }

        start.ArgumentList.Add(AgentDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // Only what the runtime needs from ours, so a developer's own SIDECAR_* or APP_* never leak in.
        var inherited = start.Environment.Keys.Where(k => !(k is "PATH" or "HOME" or "DOTNET_ROOT" or "TMPDIR" || k.StartsWith("DOTNET_", StringComparison.Ordinal))).ToList();
        foreach (var key in inherited)
        {
            start.Environment.Remove(key);
        }

        // No drain unless the test sets one (the default, 65 s, would hold every registered agent's stop for a minute).
        start.Environment["SIDECAR_DRAIN"] = "0s";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var agent = new AgentProcess(process);
        process.OutputDataReceived += (_, e) => Append(agent._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(agent._stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return agent;
    }

    /// <summary>Runs the agent to its end and returns its exit code (the test fails if it does not end in time).</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the agent did not exit within {timeout}; stdout: {Stdout} stderr: {Stderr}");
        }

        _process.WaitForExit(); // flushes the redirected streams
        return _process.ExitCode;
    }

    /// <summary>Waits until stdout contains <paramref name="text"/>.</summary>
    public Task WaitForOutputAsync(string text, TimeSpan? timeout = null) =>
        Eventually.TrueAsync(() => Stdout.Contains(text, StringComparison.Ordinal) || _process.HasExited, $"the agent printed '{text}'", timeout ?? TimeSpan.FromSeconds(20));

    /// <summary>
    /// Waits for the start-up line (docs/operations.md#listeners-and-security-defaults) and returns the addresses it names,
    /// in the order bound (the API, then the public health listener, then the metrics one), each as a
    /// URL on 127.0.0.1: an agent started with port 0 is reached on the port it bound.
    /// </summary>
    public async Task<IReadOnlyList<Uri>> WaitForListenersAsync(TimeSpan? timeout = null)
    {
        var match = await WaitForListeningLineAsync(timeout);
        return [.. match.Groups["addresses"].Value.Split(", ").Select(a => new Uri($"http://127.0.0.1:{new Uri(a.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)).Port}/"))];
    }

    /// <summary>The TCP listeners the start-up line names (<c>tcp://127.0.0.1:40123=redis</c>), in their order: the ports bound, port 0 ones included.</summary>
    public async Task<IReadOnlyList<(int Port, string Service)>> WaitForTcpListenersAsync(TimeSpan? timeout = null)
    {
        var line = (await WaitForListeningLineAsync(timeout)).Value;
        return [.. System.Text.RegularExpressions.Regex.Matches(line, @"tcp://\S+:(?<port>\d+)=(?<service>[^\s,]+)")
            .Select(m => (int.Parse(m.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups["service"].Value))];
    }

    // The start-up line itself, not only its words: a supervised app's own output, which the agent passes on, may say
    // "listening on" first (the node example's "[node-app] listening on 0.0.0.0:..." once came before the agent's line).
    private async Task<System.Text.RegularExpressions.Match> WaitForListeningLineAsync(TimeSpan? timeout)
    {
        await Eventually.TrueAsync(() => ListeningLine.IsMatch(Stdout) || _process.HasExited, "the agent printed where it listens", timeout ?? TimeSpan.FromSeconds(20));
        var match = ListeningLine.Match(Stdout);
        Assert.True(match.Success, $"the agent did not print where it listens; stdout: {Stdout} stderr: {Stderr}");
        return match;
    }

    /// <summary>The API's URL (<see cref="WaitForListenersAsync"/>'s first).</summary>
    public async Task<Uri> WaitForApiAsync(TimeSpan? timeout = null) => (await WaitForListenersAsync(timeout))[0];

    /// <summary>Sends SIGTERM, as a container runtime does.</summary>
    public void Terminate() => _ = Kill(_process.Id, 15);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static void Append(CappedLog log, string? line)
    {
        if (line is not null)
        {
            log.AppendLine(line);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Supervisor;

/// <summary>
/// Supervisor mode (docs/operations.md#supervisor-mode-agent-run, like <c>dapr run</c>): starts the app as a child once the API
/// listens, with <c>SIDECAR_URL</c>, <c>SIDECAR_PORT</c> and <c>APP_PORT</c> in its environment and
/// its output passed through whole lines at a time (<see cref="LinePump"/>). On SIGTERM the host first
/// runs the registration's drain (OUT_OF_SERVICE while still forwarding), then this service's
/// <see cref="StoppingAsync"/> sends the child SIGTERM and waits for it to exit (killing it after the
/// grace period) while the agent still serves: an app whose own shutdown calls another service or reads
/// its config through the agent is answered. Only then does the listener close and the lease get
/// cancelled (docs/operations.md#shutdown-in-order). When the app exits on its own, the agent stops
/// without a drain and exits with the app's exit code.
/// </summary>
internal sealed partial class AppProcess(
    SupervisorOptions options,
    SidecarOptions sidecar,
    AppOptions app,
    AgentExit exit,
    IHostApplicationLifetime lifetime,
    ILogger<AppProcess> logger) : IHostedLifecycleService, IDisposable
{
    private const int SigTerm = 15;
    private Process? _process;
    private Task _exited = Task.CompletedTask;
    private Task _output = Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The API is listening: the app may call it from its first line.</summary>
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(options.Command[0])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        for (var i = 1; i < options.Command.Count; i++)
        {
            start.ArgumentList.Add(options.Command[i]);
        }

        start.Environment["SIDECAR_URL"] = SidecarUrl(sidecar.BindAddress, sidecar.Port);
        start.Environment["SIDECAR_PORT"] = sidecar.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var variable in InlineIo.SetByAgent)
        {
            start.Environment.Remove(variable); // the agent's own tuning, not the app's
        }

        if (app.Port is { } port)
        {
            start.Environment["APP_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            var reason = ex.NativeErrorCode switch
            {
                2 => "no such file or directory (is it on PATH?)",
                13 => "permission denied (is it executable?)",
                8 => "not an executable file",
                _ => ex.Message,
            };
            throw new AgentStartException($"cannot start '{options.Command[0]}': {reason}");
        }

        _process = process;
        var stdout = LinePump.Start(process.StandardOutput.BaseStream, Console.OpenStandardOutput(), ConsoleLines.StdoutLock, "app stdout");
        var stderr = LinePump.Start(process.StandardError.BaseStream, Console.OpenStandardError(), ConsoleLines.StderrLock, "app stderr");
        _output = Task.WhenAll(stdout, stderr);
        LogStarted(logger, Describe(options.Command), process.Id);
        _exited = WatchAsync(process);
        return Task.CompletedTask;
    }

    /// <summary>The app's process id while it runs; null before it started and after it exited.</summary>
    public int? Pid => _process is { } process && !_exited.IsCompleted ? process.Id : null;

    /// <summary>
    /// Runs after every other StoppingAsync (the drain: registered right after <see cref="ServingLifetime"/>,
    /// see <see cref="SupervisorExtensions"/>) and before the listener closes: SIGTERM, then SIGKILL after the
    /// grace period. The agent serves all the while, so the app's own shutdown can still call through it.
    /// </summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (_process is not { } process || _exited.IsCompleted)
        {
            await OutputDoneAsync().ConfigureAwait(false);
            return;
        }

        LogStopping(logger, process.Id, DurationParser.Format(options.GracePeriod));
        _ = Kill(process.Id, SigTerm);
        try
        {
            await _exited.WaitAsync(options.GracePeriod, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogKilling(logger, process.Id);
            process.Kill(entireProcessTree: true);
            await _exited.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
        }

        await OutputDoneAsync().ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _process?.Dispose();

    // The app's last lines go out before the agent's own about its exit; a grandchild that kept the pipe open is not waited for long.
    private async Task OutputDoneAsync()
    {
        try
        {
            await _output.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    private async Task WatchAsync(Process process)
    {
        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        var code = process.ExitCode;
        var stopping = lifetime.ApplicationStopping.IsCancellationRequested;
        if (stopping)
        {
            // We asked it to stop: its code is still the one to report.
            exit.SetCode(code);
            LogExitedOnRequest(logger, code);
            return;
        }

        exit.AppExited(code);
        LogExitedOnItsOwn(logger, code);
        lifetime.StopApplication();
    }

    /// <summary>
    /// The agent's URL as the app should call it: an any-address bind is reached on loopback of the
    /// same family (0.0.0.0 as 127.0.0.1, :: as [::1]); an IPv6 address goes in brackets, its zone
    /// escaped (RFC 6874: <c>%25</c>).
    /// </summary>
    internal static string SidecarUrl(IPAddress bind, int port)
    {
        var host = bind switch
        {
            _ when bind.Equals(IPAddress.Any) => "127.0.0.1",
            _ when bind.Equals(IPAddress.IPv6Any) => "[::1]",
            { AddressFamily: AddressFamily.InterNetworkV6 } => "[" + bind.ToString().Replace("%", "%25", StringComparison.Ordinal) + "]",
            _ => bind.ToString(),
        };
        return $"http://{host}:{port.ToString(CultureInfo.InvariantCulture)}";
    }

    private static string Describe(IReadOnlyList<string> command) =>
        string.Join(' ', command.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a));

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Started the app: {Command} (pid {Pid})")]
    private static partial void LogStarted(ILogger logger, string command, int pid);

    [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "Stopping the app (pid {Pid}): SIGTERM, killed after {Grace}")]
    private static partial void LogStopping(ILogger logger, int pid, string grace);

    [LoggerMessage(EventId = 602, Level = LogLevel.Warning, Message = "The app (pid {Pid}) ignored SIGTERM for the whole grace period: killed")]
    private static partial void LogKilling(ILogger logger, int pid);

    [LoggerMessage(EventId = 603, Level = LogLevel.Information, Message = "The app exited with code {Code}")]
    private static partial void LogExitedOnRequest(ILogger logger, int code);

    [LoggerMessage(EventId = 604, Level = LogLevel.Warning, Message = "The app exited on its own with code {Code}: deregistering and stopping")]
    private static partial void LogExitedOnItsOwn(ILogger logger, int code);
}

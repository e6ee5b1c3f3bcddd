using System.Diagnostics;
using System.Net.Sockets;

namespace Sidecar.Tests.Support;

/// <summary>
/// A real <c>redis-server</c> (Debian's <c>redis-server</c> package, which <c>.ci/run</c> installs) on a free
/// loopback port, without persistence; stopped and started again on the same port to flip its health.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private Process? _process;

    private RedisServer(int port)
    {
        Port = port;
    }

    public static string? ServerPath { get; } = Tools.Find("redis-server");

    public static string? CliPath { get; } = Tools.Find("redis-cli");

    public int Port { get; }

    public static async Task<RedisServer> StartAsync(int? port = null)
    {
        var server = new RedisServer(port ?? Tools.FreePort());
        await server.StartAsync();
        return server;
    }

    /// <summary>Starts (again) on <see cref="Port"/> and waits until it accepts connections.</summary>
    public async Task StartAsync()
    {
        Assert.NotNull(ServerPath);
        var start = new ProcessStartInfo(ServerPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in Arguments(Port))
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Eventually.TrueAsync(() => Tools.AcceptsAsync(Port), $"redis-server listens on {Port}");
    }

    /// <summary>The arguments of a throw-away redis-server on <paramref name="port"/> (loopback, nothing saved).</summary>
    public static string[] Arguments(int port) =>
        ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"];

    /// <summary>Stops it (SIGKILL): its port refuses connections at once.</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            process.Kill();
            await process.WaitForExitAsync();
            process.Dispose();
        }
    }

    /// <summary>Runs <c>redis-cli -p port args...</c>; returns its exit code and output.</summary>
    public static Task<(int ExitCode, string Output)> CliAsync(int port, params string[] args) =>
        Tools.RunAsync(CliPath!, ["-h", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. args]);

    public async ValueTask DisposeAsync() => await StopAsync();
}

/// <summary>A fact that needs Redis: skipped, saying why, only where it is not installed (.ci/run installs it).</summary>
public sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute()
    {
        if (RedisServer.ServerPath is null || RedisServer.CliPath is null)
        {
            Skip = "redis-server and redis-cli are not installed (apt-get install -y redis-server redis-tools; .ci/run does it)";
        }
    }
}

/// <summary>Finding and running the third-party tools the TCP tests use.</summary>
public static class Tools
{
    /// <summary>The path of <paramref name="name"/> on PATH or in <paramref name="extra"/> folders; null when absent.</summary>
    public static string? Find(string name, params string[] extra)
    {
        var folders = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(extra);
        foreach (var folder in folders)
        {
            var candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>
    /// A port for what must be written in settings before it starts (a TCP listener, redis-server's and
    /// PostgreSQL's ports take no 0): bound once, then released, so another process could take it first.
    /// </summary>
    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        return ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>True when something accepts a TCP connection on 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task<bool> AcceptsAsync(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Runs a command to its end (at most 30 s); returns its exit code and stdout followed by stderr.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{Path.GetFileName(file)} did not finish within 30 s");
        }

        return (process.ExitCode, (await stdout) + (await stderr));
    }
}

using System.Diagnostics;
using System.Globalization;

namespace Sidecar.Tests.Support;

/// <summary>
/// A real PostgreSQL (Debian's <c>postgresql</c> package, which <c>.ci/run</c> installs): a throw-away cluster made
/// with <c>initdb</c> in a temporary folder, trust authentication, on a free loopback port. PostgreSQL refuses to
/// run as root: as root, the cluster belongs to the <c>postgres</c> user (the package makes it), or <c>nobody</c>,
/// and every server command runs as that user through <c>setpriv</c> (util-linux).
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly DirectoryInfo _folder;
    private Process? _process;

    private PostgresServer(DirectoryInfo folder, int port)
    {
        _folder = folder;
        Port = port;
    }

    /// <summary>The folder of the newest installed server's programs (PATH first, then /usr/lib/postgresql/*/bin); null when none.</summary>
    public static string? BinFolder { get; } = FindBin();

    public static string? PsqlPath { get; } = Tools.Find("psql", BinFolder ?? "/nonexistent");

    /// <summary>Why these tests cannot run here; null when they can.</summary>
    public static string? Unavailable { get; } =
        BinFolder is null || PsqlPath is null ? "PostgreSQL is not installed (apt-get install -y postgresql; .ci/run does it)"
        : Environment.UserName == "root" && Tools.Find("setpriv") is null ? "running as root without setpriv to run PostgreSQL as another user"
        : null;

    public int Port { get; }

    public string DataFolder => Path.Combine(_folder.FullName, "data");

    /// <summary>The command prefix that runs a server program as the cluster's owner: setpriv as root, nothing otherwise.</summary>
    public static IReadOnlyList<string> AsOwner { get; } = OwnerPrefix();

    public static async Task<PostgresServer> StartAsync()
    {
        var folder = Directory.CreateTempSubdirectory("sidecar-pg-");
        var server = new PostgresServer(folder, Tools.FreePort());
        try
        {
            if (AsOwner.Count > 0)
            {
                var (code, output) = await Tools.RunAsync("chown", [$"{OwnerUser}:", folder.FullName]);
                Assert.True(code == 0, "chown: " + output);
            }

            var init = await RunAsOwnerAsync(Path.Combine(BinFolder!, "initdb"), ["-D", server.DataFolder, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
            Assert.True(init.ExitCode == 0, "initdb: " + init.Output);
            await server.RunAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The command line that runs the server in the foreground on <paramref name="port"/>, as the cluster's owner.</summary>
    public IReadOnlyList<string> ServerCommand(int port) =>
    [
        .. AsOwner, Path.Combine(BinFolder!, "postgres"), "-D", DataFolder, "-p", port.ToString(CultureInfo.InvariantCulture),
        "-k", _folder.FullName, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=20",
    ];

    /// <summary>Starts the server on <see cref="Port"/> and waits until it answers a query.</summary>
    public async Task RunAsync()
    {
        var command = ServerCommand(Port);
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Eventually.TrueAsync(async () => (await PsqlAsync(Port, "select 1")).ExitCode == 0, $"PostgreSQL answers on {Port}", TimeSpan.FromSeconds(30));
    }

    /// <summary>Runs <c>psql -c sql</c> against 127.0.0.1:<paramref name="port"/>; returns its exit code and output (rows unaligned, tuples only).</summary>
    public static Task<(int ExitCode, string Output)> PsqlAsync(int port, string sql) =>
        Tools.RunAsync(PsqlPath!, ["-X", "-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-d", "postgres", "-tA", "-c", sql],
            new Dictionary<string, string> { ["PGCONNECT_TIMEOUT"] = "5" });

    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            _ = Kill(process.Id, 2); // SIGINT: PostgreSQL's fast shutdown
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }

            process.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string OwnerUser => Tools.RunAsync("id", ["-u", "postgres"]).GetAwaiter().GetResult().ExitCode == 0 ? "postgres" : "nobody";

    private static IReadOnlyList<string> OwnerPrefix()
    {
        if (Environment.UserName != "root")
        {
            return [];
        }

        var user = OwnerUser;
        return [Tools.Find("setpriv") ?? "setpriv", $"--reuid={user}", $"--regid={Id("-g", user)}", "--init-groups", "--"];
    }

    private static string Id(string option, string user) => Tools.RunAsync("id", [option, user]).GetAwaiter().GetResult().Output.Trim();

    private static Task<(int ExitCode, string Output)> RunAsOwnerAsync(string file, string[] args) =>
        AsOwner.Count == 0 ? Tools.RunAsync(file, args) : Tools.RunAsync(AsOwner[0], [.. AsOwner.Skip(1), file, .. args]);

    private static string? FindBin()
    {
        if (Tools.Find("postgres") is { } onPath && Tools.Find("initdb") is not null)
        {
            return Path.GetDirectoryName(onPath);
        }

        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root))
        {
            return null;
        }

        return Directory.GetDirectories(root)
            .Select(d => Path.Combine(d, "bin"))
            .Where(d => File.Exists(Path.Combine(d, "postgres")) && File.Exists(Path.Combine(d, "initdb")))
            .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0)
            .FirstOrDefault();
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

/// <summary>A fact that needs PostgreSQL: skipped, saying why, only where it is not installed (.ci/run installs it).</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PostgresServer.Unavailable is { } why)
        {
            Skip = why;
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding.Grpc;

/// <summary>
/// The real gRPC peers of the forwarding tests (Support/grpc-js/grpc-forward.js, @grpc/grpc-js): an Echo
/// instance or an HTTP/1.1-only server as a child process, and a client run to its end.
/// </summary>
internal static class GrpcPeers
{
    public static readonly NodeScripts Scripts = new(Repository.PathOf("tests", "Agent.Tests", "Support", "grpc-js"), "@grpc/grpc-js");

    /// <summary>Runs the client: <paramref name="way"/> <c>authority</c> or <c>invoke</c>; one JSON element per line it printed.</summary>
    public static async Task<List<JsonElement>> ClientAsync(Uri grpcListener, string service, string way, string mode, int? deadlineMs = null)
    {
        List<string> arguments = ["grpc-forward.js", "client", grpcListener.Port.ToString(CultureInfo.InvariantCulture), service, way, mode];
        if (deadlineMs is { } ms)
        {
            arguments.Add(ms.ToString(CultureInfo.InvariantCulture));
        }

        var (_, stdout, stderr) = await Scripts.NodeAsync(arguments, "the gRPC client");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        Assert.True(lines.Count > 0 && lines[^1].TryGetProperty("status", out _), $"gRPC client: {stdout} {stderr}");
        return lines;
    }

    /// <summary>The final status of a client's call (its last line).</summary>
    public static (int Code, string Details, JsonElement Metadata) Status(List<JsonElement> lines)
    {
        var status = lines[^1].GetProperty("status");
        return (status.GetProperty("code").GetInt32(), status.GetProperty("details").GetString()!, status.GetProperty("metadata"));
    }

    public static List<JsonElement> Replies(List<JsonElement> lines) =>
        [.. lines.Where(l => l.TryGetProperty("reply", out _)).Select(l => l.GetProperty("reply"))];
}

/// <summary>A peer process of grpc-forward.js (<c>server NAME</c> or <c>http1</c>): its port, and what it wrote to stderr.</summary>
internal sealed class GrpcPeer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _calls = [];

    private GrpcPeer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary><c>http://127.0.0.1:port</c>, the form ROUTES takes.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    public int Calls
    {
        get
        {
            lock (_calls)
            {
                return _calls.Count;
            }
        }
    }

    public static Task<GrpcPeer> ServerAsync(string name, bool unavailable = false) =>
        StartAsync(unavailable ? ["grpc-forward.js", "server", name, "unavailable"] : ["grpc-forward.js", "server", name]);

    public static Task<GrpcPeer> Http1Async() => StartAsync(["grpc-forward.js", "http1"]);

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    private static async Task<GrpcPeer> StartAsync(string[] arguments)
    {
        await GrpcPeers.Scripts.EnsureInstalledAsync();
        var process = Process.Start(new ProcessStartInfo("node", arguments)
        {
            WorkingDirectory = GrpcPeers.Scripts.Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var first = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("the gRPC peer printed nothing");
        var peer = new GrpcPeer(process, JsonDocument.Parse(first).RootElement.GetProperty("port").GetInt32());
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                lock (peer._calls)
                {
                    peer._calls.Add(line);
                }
            }
        };
        process.BeginErrorReadLine();
        return peer;
    }
}

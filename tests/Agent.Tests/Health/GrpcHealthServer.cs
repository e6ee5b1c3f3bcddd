using System.Diagnostics;
using System.Text.Json;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Health;

/// <summary>
/// A real grpc-js server with the standard health service (Support/grpc-js/health-server.js), or without it;
/// statuses set while it runs, stopped and started again on the same port.
/// </summary>
internal sealed class GrpcHealthServer : IAsyncDisposable
{
    internal static readonly NodeScripts GrpcJs = new(Repository.PathOf("tests", "Agent.Tests", "Support", "grpc-js"), "@grpc/grpc-js");

    private readonly string _spec;
    private Process? _process;

    private GrpcHealthServer(string spec) => _spec = spec;

    public int Port { get; private set; }

    /// <param name="statuses">Service name ("" = the server as a whole) to ServingStatus; null: no health service at all.</param>
    public static async Task<GrpcHealthServer> StartAsync(Dictionary<string, string>? statuses)
    {
        var server = new GrpcHealthServer(statuses is null ? "none" : JsonSerializer.Serialize(statuses));
        await server.StartAsync();
        return server;
    }

    /// <summary>Starts (again: on the same port) and waits until it listens.</summary>
    public async Task StartAsync()
    {
        await GrpcJs.EnsureInstalledAsync();
        var start = new ProcessStartInfo("node", ["health-server.js", _spec, Port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            WorkingDirectory = GrpcJs.Folder,
            RedirectStandardInput = true, // node exits when it closes: the server never outlives the test
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start)!;
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var first = await _process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("the gRPC health server printed nothing");
        Port = JsonDocument.Parse(first).RootElement.GetProperty("port").GetInt32();
    }

    /// <summary>Sets what Check answers for <paramref name="service"/>, and waits until the server says so.</summary>
    public async Task SetAsync(string service, string status)
    {
        var process = _process ?? throw new InvalidOperationException("not running");
        await process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(new Dictionary<string, string> { ["service"] = service, ["status"] = status }));
        await process.StandardInput.FlushAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Assert.Contains("\"set\"", await process.StandardOutput.ReadLineAsync(timeout.Token) ?? "", StringComparison.Ordinal);
    }

    /// <summary>Stops it (SIGKILL): its port refuses connections at once.</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}

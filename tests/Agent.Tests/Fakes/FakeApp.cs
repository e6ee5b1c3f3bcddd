using Microsoft.AspNetCore.Http;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Fakes;

/// <summary>
/// The application beside the agent, on a real socket: its <c>/health</c> answers 200, 500, hangs,
/// or the whole app is closed (connection refused) and reopened on the same port.
/// </summary>
public sealed class FakeApp : IAsyncDisposable
{
    private LoopbackServer? _server;
    private volatile string _mode = "ok";
    private int _healthCalls;

    public int Port { get; private set; }

    public Uri HealthUrl => new($"http://127.0.0.1:{Port}/health");

    public int HealthCalls => Volatile.Read(ref _healthCalls);

    /// <summary><c>ok</c> (200 {"status":"UP"}), <c>error</c> (500), <c>slow</c> (hangs until the client gives up), <c>down-json</c> (200 {"status":"DOWN"}).</summary>
    public string Mode
    {
        get => _mode;
        set => _mode = value;
    }

    public static async Task<FakeApp> StartAsync()
    {
        var app = new FakeApp();
        await app.OpenAsync(); // on port 0 the first time: the port it bound is kept for reopening
        return app;
    }

    /// <summary>Stops listening: probes now see connection refused.</summary>
    public async Task CloseAsync()
    {
        if (_server is { } server)
        {
            _server = null;
            await server.DisposeAsync();
        }
    }

    /// <summary>Listens again on the same port.</summary>
    public async Task OpenAsync()
    {
        if (_server is null)
        {
            _server = await LoopbackServer.StartAsync(HandleAsync, Port);
            Port = _server.Port;
        }
    }

    public ValueTask DisposeAsync() => new(CloseAsync());

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path != "/health")
        {
            context.Response.StatusCode = 404;
            return;
        }

        Interlocked.Increment(ref _healthCalls);
        switch (_mode)
        {
            case "ok":
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("""{"status":"UP"}""");
                break;
            case "down-json":
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("""{"status":"DOWN"}""");
                break;
            case "error":
                context.Response.StatusCode = 500;
                await context.Response.WriteAsync("boom");
                break;
            case "slow":
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    // the probe gave up, as it should
                }

                break;
        }
    }
}

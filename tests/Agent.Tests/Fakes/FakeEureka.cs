using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Sidecar.DevRegistry;
using Sidecar.Discovery;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Fakes;

/// <summary>One request the fake saw, as it came over the wire.</summary>
internal sealed record RecordedRequest(
    string Method,
    string RawTarget,
    string Path,
    string Query,
    string Accept,
    string? Authorization,
    string? ContentType,
    byte[] Body,
    int StatusCode,
    DateTimeOffset At,
    string? AcceptEncoding = null,
    string? ResponseEncoding = null)
{
    public string BodyText => System.Text.Encoding.UTF8.GetString(Body);

    public override string ToString() => $"{Method} {RawTarget} -> {StatusCode}";
}

/// <summary>
/// One node of a fake Eureka on 127.0.0.1: the agent's own server logic (<see cref="EurekaServerRegistry"/>,
/// the same rules as <c>agent registry</c>) plus fault switches: down (connection refused), 500,
/// slow or hanging answers, empty after a restart, single-object JSON, XML refused with 406, deltas
/// disabled. Answers are gzipped when the client accepts it, as a real server's. Records every
/// request. Start several for a cluster (they do not replicate).
/// </summary>
internal sealed class FakeEureka : IAsyncDisposable
{
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly TaskCompletionSource _registerGranted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LoopbackServer? _server;
    private int _port;

    private FakeEureka(TimeProvider time, TimeSpan? deltaRetention)
    {
        Time = time;
        Registry = new EurekaServerRegistry(time, deltaRetention);
        Handler = new EurekaServerHandler(Registry);
    }

    public TimeProvider Time { get; }

    public EurekaServerRegistry Registry { get; }

    public EurekaServerHandler Handler { get; }

    /// <summary>The service URL the agent is given: <c>http://127.0.0.1:port/eureka/</c>.</summary>
    public Uri ServiceUrl => new($"http://127.0.0.1:{_port}/eureka/");

    public int Port => _port;

    /// <summary>Every request is answered 500.</summary>
    public bool Fail500 { get; set; }

    /// <summary>Every answer waits this long first.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Requests are never answered (until the client gives up).</summary>
    public bool Hang { get; set; }

    /// <summary>
    /// When set, a register (POST) is granted (the instance is in the registry) and its answer then waits for
    /// this task: a registration Eureka has accepted whose answer is still on its way.
    /// </summary>
    public Task? HoldRegisterAnswer { get; set; }

    /// <summary>Completes when a register has been granted (the instance is in the registry).</summary>
    public Task RegisterGranted => _registerGranted.Task;

    /// <summary>A status code forced on the requests it picks (method, path), e.g. 403 to a GET of one instance; null = answer normally.</summary>
    public Func<string, string, int?>? Refuse { get; set; }

    public bool IsDown => _server is null;

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public static async Task<FakeEureka> StartAsync(TimeProvider? time = null, TimeSpan? deltaRetention = null)
    {
        var fake = new FakeEureka(time ?? TimeProvider.System, deltaRetention);
        await fake.UpAsync(0);
        return fake;
    }

    /// <summary>Down: the port is closed, connections are refused.</summary>
    public async Task DownAsync()
    {
        if (_server is { } server)
        {
            _server = null;
            await server.DisposeAsync();
        }
    }

    /// <summary>Back on the same port; <paramref name="empty"/> forgets every lease, as a restarted server without peers.</summary>
    public async Task RestartAsync(bool empty = true)
    {
        await DownAsync();
        if (empty)
        {
            Registry.Clear();
        }

        await UpAsync(_port);
    }

    public void ClearRequests() => _requests.Clear();

    /// <summary>Requests matching a method and a path ending (e.g. <c>PUT</c>, <c>/status</c>).</summary>
    public IReadOnlyList<RecordedRequest> RequestsFor(string method, string? pathContains = null) =>
        [.. _requests.Where(r => r.Method == method && (pathContains is null || r.Path.Contains(pathContains, StringComparison.Ordinal)))];

    public EurekaInstanceInfo? Instance(string app, string id) => Registry.GetInstance(app, id);

    public async ValueTask DisposeAsync() => await DownAsync();

    private async Task UpAsync(int port)
    {
        _server = await LoopbackServer.StartAsync(HandleAsync, port);
        _port = _server.Port;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        request.Body = new MemoryStream(body.ToArray());
        try
        {
            if (Hang)
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }

            if (Delay > TimeSpan.Zero)
            {
                await Task.Delay(Delay, context.RequestAborted);
            }

            if (Fail500)
            {
                context.Response.StatusCode = 500;
                return;
            }

            if (Refuse?.Invoke(request.Method, request.Path.Value ?? "") is { } refused)
            {
                context.Response.StatusCode = refused;
                return;
            }

            await Handler.HandleAsync(context);
            if (request.Method == "POST")
            {
                _registerGranted.TrySetResult();
                if (HoldRegisterAnswer is { } hold)
                {
                    await hold.WaitAsync(context.RequestAborted);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the client gave up
        }
        finally
        {
            _requests.Enqueue(new RecordedRequest(
                request.Method,
                context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "",
                request.Path.Value ?? "",
                request.QueryString.Value ?? "",
                request.Headers.Accept.ToString(),
                request.Headers.Authorization.Count > 0 ? request.Headers.Authorization.ToString() : null,
                request.ContentType,
                body.ToArray(),
                context.Response.StatusCode,
                DateTimeOffset.UtcNow,
                request.Headers.AcceptEncoding.Count > 0 ? request.Headers.AcceptEncoding.ToString() : null,
                context.Response.Headers.ContentEncoding.Count > 0 ? context.Response.Headers.ContentEncoding.ToString() : null));
        }
    }
}

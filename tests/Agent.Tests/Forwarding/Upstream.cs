using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>A request as an upstream saw it: the raw target (exactly the bytes of the request line) and the headers.</summary>
public sealed record SeenRequest(string Method, string RawTarget, IReadOnlyDictionary<string, string> Headers);

/// <summary>
/// A real upstream instance on 127.0.0.1:0 that records every request it gets. By default it answers
/// <c>200 {name}</c>; tests pass their own handler to fail, hang or stream.
/// </summary>
public sealed class Upstream : IAsyncDisposable
{
    private readonly ConcurrentQueue<SeenRequest> _seen = new();
    private LoopbackServer _server = null!;
    private int _count;

    public string Name { get; private init; } = "";

    public int Port => _server.Port;

    /// <summary><c>http://127.0.0.1:port</c>, the form ROUTES takes.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    public int Count => Volatile.Read(ref _count);

    public IReadOnlyList<SeenRequest> Seen => [.. _seen];

    public SeenRequest Last => _seen.Last();

    public static async Task<Upstream> StartAsync(string name, Func<HttpContext, int, Task>? handler = null)
    {
        var upstream = new Upstream { Name = name };
        upstream._server = await LoopbackServer.StartAsync(async context =>
        {
            var n = Interlocked.Increment(ref upstream._count);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var header in context.Request.Headers)
            {
                headers[header.Key] = header.Value.ToString();
            }

            upstream._seen.Enqueue(new SeenRequest(context.Request.Method, context.Features.Get<IHttpRequestFeature>()!.RawTarget, headers));
            if (handler is not null)
            {
                await handler(context, n);
            }
            else
            {
                await context.Response.WriteAsync(name);
            }
        });
        return upstream;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

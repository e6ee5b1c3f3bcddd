using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Reliability;

/// <summary>How a <see cref="FaultyUpstream"/> answers.</summary>
internal enum UpstreamMode
{
    /// <summary>200 with its name, after a short pause (so calls are in flight when a fault strikes).</summary>
    Normal,

    /// <summary>Never answers (until the caller gives up).</summary>
    Hang,

    /// <summary>503 at once.</summary>
    Fail503,
}

/// <summary>How often each request id reached any upstream: the proof that no call was sent twice when it must not be.</summary>
internal sealed class RequestLedger
{
    private readonly ConcurrentDictionary<string, int> _arrivals = new(StringComparer.Ordinal);

    public void Arrived(string id) => _arrivals.AddOrUpdate(id, 1, static (_, n) => n + 1);

    public int Arrivals(string id) => _arrivals.GetValueOrDefault(id);

    /// <summary>Ids starting with <paramref name="prefix"/> that arrived more than once.</summary>
    public IReadOnlyList<string> Duplicates(string prefix) =>
        [.. _arrivals.Where(a => a.Value > 1 && a.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(a => $"{a.Key} x{a.Value}")];

    public void Clear() => _arrivals.Clear();
}

/// <summary>
/// An upstream instance on a fixed loopback port that can be killed (connections in flight are
/// reset, new ones refused, as when its process dies), revived on the same port, made to hang or
/// to answer 503. Every request is counted in a shared <see cref="RequestLedger"/> by its
/// <c>X-Request-Id</c>.
/// </summary>
internal sealed class FaultyUpstream : IAsyncDisposable
{
    private readonly ConcurrentDictionary<HttpContext, bool> _inFlight = new();
    private readonly RequestLedger _ledger;
    private LoopbackServer? _server;
    private int _count;
    private volatile UpstreamMode _mode;

    private FaultyUpstream(string name, RequestLedger ledger)
    {
        Name = name;
        _ledger = ledger;
    }

    public string Name { get; }

    /// <summary>0 until the first start, which binds any free port; a revival comes back on it.</summary>
    public int Port { get; private set; }

    public string Url => $"http://127.0.0.1:{Port}";

    public int Count => Volatile.Read(ref _count);

    /// <summary>How long a normal answer takes.</summary>
    public TimeSpan Work { get; set; } = TimeSpan.FromMilliseconds(2);

    public UpstreamMode Mode
    {
        get => _mode;
        set => _mode = value;
    }

    public static async Task<FaultyUpstream> StartAsync(string name, RequestLedger ledger)
    {
        var upstream = new FaultyUpstream(name, ledger);
        await upstream.ReviveAsync();
        return upstream;
    }

    /// <summary>As a crash: every request in flight is reset, then the port is closed.</summary>
    public async Task KillAsync()
    {
        var server = Interlocked.Exchange(ref _server, null);
        foreach (var context in _inFlight.Keys)
        {
            try
            {
                context.Abort();
            }
            catch (ObjectDisposedException)
            {
                // it completed meanwhile
            }
        }

        if (server is not null)
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>Listens again on the same port, answering normally.</summary>
    public async Task ReviveAsync()
    {
        _mode = UpstreamMode.Normal;
        if (_server is null)
        {
            _server = await LoopbackServer.StartAsync(HandleAsync, Port);
            Port = _server.Port;
        }
    }

    public ValueTask DisposeAsync() => new(KillAsync());

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _count);
        var id = context.Request.Headers[LoadRunner.RequestIdHeader].ToString();
        if (id.Length > 0)
        {
            _ledger.Arrived(id);
        }

        _inFlight[context] = true;
        try
        {
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            switch (_mode)
            {
                case UpstreamMode.Hang:
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                    break;
                case UpstreamMode.Fail503:
                    context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                    await context.Response.WriteAsync("overloaded", context.RequestAborted);
                    break;
                default:
                    if (Work > TimeSpan.Zero)
                    {
                        await Task.Delay(Work, context.RequestAborted);
                    }

                    await context.Response.WriteAsync(Name, context.RequestAborted);
                    break;
            }
        }
        catch (OperationCanceledException)
        {
            // the agent gave up on this attempt, or the upstream was killed
        }
        catch (IOException)
        {
            // killed mid-request
        }
        finally
        {
            _inFlight.TryRemove(context, out _);
        }
    }
}

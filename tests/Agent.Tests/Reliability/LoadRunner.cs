using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace Sidecar.Tests.Reliability;

/// <summary>The calls of the steady load: idempotent GETs, POSTs with an <c>Idempotency-Key</c>, and POSTs without one.</summary>
internal enum CallKind
{
    Get,
    PostWithKey,
    PostWithoutKey,
}

/// <summary>What the calls of one phase of a load run gave.</summary>
internal sealed class LoadResult
{
    private const int MaxSamples = 50_000;
    private readonly Lock _lock = new();
    private readonly Dictionary<CallKind, (long Sent, long Succeeded)> _byKind = [];
    private readonly Dictionary<string, long> _failures = new(StringComparer.Ordinal);
    private readonly List<double> _latencies = [];
    private readonly List<string> _failedIds = [];

    public long Sent { get; private set; }

    public long Succeeded { get; private set; }

    public long Failed => Sent - Succeeded;

    public IReadOnlyDictionary<string, long> Failures
    {
        get
        {
            lock (_lock)
            {
                return new Dictionary<string, long>(_failures, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>The request ids of the failed calls.</summary>
    public IReadOnlyList<string> FailedIds
    {
        get
        {
            lock (_lock)
            {
                return [.. _failedIds];
            }
        }
    }

    public long SentOf(CallKind kind)
    {
        lock (_lock)
        {
            return _byKind.GetValueOrDefault(kind).Sent;
        }
    }

    public long FailedOf(CallKind kind)
    {
        lock (_lock)
        {
            var (sent, succeeded) = _byKind.GetValueOrDefault(kind);
            return sent - succeeded;
        }
    }

    /// <summary>Latency percentile in milliseconds (0 when nothing was sent).</summary>
    public double Percentile(double p)
    {
        lock (_lock)
        {
            if (_latencies.Count == 0)
            {
                return 0;
            }

            var sorted = _latencies.Order().ToArray();
            return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
        }
    }

    public void Record(CallKind kind, string id, bool succeeded, string? failure, double milliseconds)
    {
        lock (_lock)
        {
            Sent++;
            var (sent, ok) = _byKind.GetValueOrDefault(kind);
            _byKind[kind] = (sent + 1, ok + (succeeded ? 1 : 0));
            // A reservoir of latencies and a cap on remembered ids: a long run (the soak) keeps bounded memory.
            if (_latencies.Count < MaxSamples)
            {
                _latencies.Add(milliseconds);
            }
            else if (Random.Shared.NextInt64(Sent) < MaxSamples)
            {
                _latencies[Random.Shared.Next(MaxSamples)] = milliseconds;
            }

            if (succeeded)
            {
                Succeeded++;
            }
            else
            {
                if (_failedIds.Count < MaxSamples)
                {
                    _failedIds.Add(id);
                }

                var key = $"{Label(kind)} {failure}";
                _failures[key] = _failures.GetValueOrDefault(key) + 1;
            }
        }
    }

    /// <summary>"GET 300/300 ok, POST+key 150/150, POST 148/150; p50 2.1 ms, p99 9.8 ms; failed: POST 502 upstream-unreachable x2".</summary>
    public string Describe()
    {
        lock (_lock)
        {
            var kinds = string.Join(", ", _byKind.OrderBy(k => k.Key).Select(k => $"{Label(k.Key)} {k.Value.Succeeded}/{k.Value.Sent} ok"));
            var failures = _failures.Count == 0 ? "" : "; failed: " + string.Join(", ", _failures.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key} x{f.Value}"));
            return string.Create(CultureInfo.InvariantCulture, $"{kinds}; p50 {Percentile50():0.0} ms, p99 {Percentile99():0.0} ms{failures}");
        }

        double Percentile50() => Percentile(50);
        double Percentile99() => Percentile(99);
    }

    public static string Label(CallKind kind) => kind switch
    {
        CallKind.Get => "GET",
        CallKind.PostWithKey => "POST+key",
        _ => "POST",
    };
}

/// <summary>
/// A steady load through the agent: <paramref name="concurrency"/> callers in a loop, half GETs, a
/// quarter POSTs with an <c>Idempotency-Key</c>, a quarter POSTs without, each carrying a unique
/// <c>X-Request-Id</c> so the upstreams can count how often each one reached them. Results are kept
/// per phase (<see cref="Mark"/>): a call counts in the phase in which it started.
/// </summary>
internal sealed class LoadRunner : IAsyncDisposable
{
    public const string RequestIdHeader = "X-Request-Id";

    private readonly HttpClient _client;
    private readonly string _path;
    private readonly int _concurrency;
    private readonly Dictionary<string, LoadResult> _phases = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<int, CallKind> _mix;
    private readonly TimeSpan _pause;
    private LoadResult _current = null!;
    private Task[] _workers = [];
    private int _sequence;

    /// <param name="baseUri">The agent.</param>
    /// <param name="path">The call, relative to the agent (<c>v1/invoke/orders/work</c>).</param>
    /// <param name="pause">A pause between one caller's calls (zero: back to back).</param>
    public LoadRunner(Uri baseUri, string path, int concurrency = 8, Func<int, CallKind>? mix = null, TimeSpan? pause = null)
    {
        _client = new HttpClient(new SocketsHttpHandler { UseProxy = false, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = baseUri,
            Timeout = TimeSpan.FromSeconds(60),
        };
        _path = path;
        _concurrency = concurrency;
        _mix = mix ?? DefaultMix;
        _pause = pause ?? TimeSpan.Zero;
        Mark("baseline");
    }

    public static CallKind DefaultMix(int n) => (n % 4) switch
    {
        0 or 1 => CallKind.Get,
        2 => CallKind.PostWithKey,
        _ => CallKind.PostWithoutKey,
    };

    public LoadResult this[string phase]
    {
        get
        {
            lock (_phases)
            {
                return _phases[phase];
            }
        }
    }

    public IReadOnlyList<string> Phases
    {
        get
        {
            lock (_phases)
            {
                return [.. _order];
            }
        }
    }

    /// <summary>Calls started from now on count in <paramref name="phase"/>.</summary>
    public void Mark(string phase)
    {
        lock (_phases)
        {
            if (!_phases.TryGetValue(phase, out var result))
            {
                _phases[phase] = result = new LoadResult();
                _order.Add(phase);
            }

            Volatile.Write(ref _current, result);
        }
    }

    /// <summary>Starts the callers after a few unrecorded calls of each kind (JIT and connection pools warm).</summary>
    public LoadRunner Start()
    {
        for (var i = 0; i < 12; i++)
        {
            var kind = (CallKind)(i % 3);
            _ = CallAsync(kind, "warmup-" + i.ToString(CultureInfo.InvariantCulture), -i).GetAwaiter().GetResult();
        }

        _workers = [.. Enumerable.Range(0, _concurrency).Select(_ => Task.Run(WorkAsync))];
        return this;
    }

    /// <summary>Stops the callers and waits for the calls in flight to end.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        _client.Dispose();
        _stop.Dispose();
    }

    private async Task WorkAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var n = Interlocked.Increment(ref _sequence);
            var kind = _mix(n);
            var phase = Volatile.Read(ref _current);
            var started = Stopwatch.GetTimestamp();
            var id = $"{LoadResult.Label(kind)}-{n}";
            var (ok, failure) = await CallAsync(kind, id, n);
            phase.Record(kind, id, ok, failure, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            if (_pause > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(_pause, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task<(bool Ok, string? Failure)> CallAsync(CallKind kind, string id, int n)
    {
        using var request = new HttpRequestMessage(kind == CallKind.Get ? HttpMethod.Get : HttpMethod.Post, _path);
        request.Headers.Add(RequestIdHeader, id);
        if (kind != CallKind.Get)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes($$"""{"n":{{n}}}"""));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        if (kind == CallKind.PostWithKey)
        {
            request.Headers.Add("Idempotency-Key", "key-" + n.ToString(CultureInfo.InvariantCulture));
        }

        try
        {
            using var response = await _client.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            if (response.IsSuccessStatusCode)
            {
                return (true, null);
            }

            var code = response.Headers.TryGetValues("X-Sidecar-Error", out var values) ? " " + values.First() : " (upstream)";
            return (false, ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture) + code);
        }
#pragma warning disable CA1031 // any failure of a call is a figure, not a test crash
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return (false, ex.GetType().Name);
        }
    }
}

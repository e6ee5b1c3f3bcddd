using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Support;
using Xunit.Abstractions;

namespace Sidecar.Tests.Reliability;

/// <summary>The real agent as a process (its memory and handles are its own), with one static service and a config file.</summary>
public sealed class HostileAgentFixture : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("reliability-hostile").FullName;

    public Upstream Orders { get; private set; } = null!;

    /// <summary>An instance of service <c>hostile</c> answering what the request's path names (<see cref="HostileInputTests.HostileAnswers"/>).</summary>
    public RawUpstream Hostile { get; private set; } = null!;

    public AgentProcess Agent { get; private set; } = null!;

    /// <summary>The API's port, the one the agent bound (it starts with port 0).</summary>
    public int Port { get; private set; }

    public int PublicPort { get; private set; }

    public HttpClient Client { get; } = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>Every route of the index (<c>GET /</c>) as (methods, path with its parameters filled in).</summary>
    public IReadOnlyList<(string[] Methods, string Path)> Routes { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Orders = await Upstream.StartAsync("orders");
        Hostile = RawUpstream.StartByRequest(head =>
        {
            var line = Encoding.Latin1.GetString(head).Split("\r\n")[0];
            var kind = HostileInputTests.HostileAnswers.FirstOrDefault(a => line.Contains("/" + a.Name + " ", StringComparison.Ordinal));
            return RawUpstream.Latin1(kind.Answer ?? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        });
        var config = Path.Combine(_dir, "app.json");
        await File.WriteAllTextAsync(config, """{"message":"hello","db":{"url":"jdbc:x"}}""");
        Agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_PUBLIC_HEALTH_PORT"] = "0",
            ["SIDECAR_LOG_LEVEL"] = "warning",
            ["SIDECAR_DATA_DIR"] = Path.Combine(_dir, "data"),
            ["APP_NAME"] = "orders",
            ["APP_HEALTH_URL"] = "",
            ["CONFIG_FILE"] = config,
            ["ROUTES"] = $"orders={Orders.Url},hostile={Hostile.Url}",
        });
        var listeners = await Agent.WaitForListenersAsync(TimeSpan.FromSeconds(30));
        Port = listeners[0].Port;
        PublicPort = listeners[1].Port;
        Client.BaseAddress = new Uri($"http://127.0.0.1:{Port}/");
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                using var response = await Client.GetAsync("ping");
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return Agent.HasExited;
            }
        }, "the agent answers", TimeSpan.FromSeconds(30));

        using var index = JsonDocument.Parse(await Client.GetStringAsync(""));
        Routes = [.. index.RootElement.GetProperty("routes").EnumerateArray().Select(r => (
            r.GetProperty("methods").EnumerateArray().Select(m => m.GetString()!).ToArray(),
            Fill(r.GetProperty("path").GetString()!)))];
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Agent.DisposeAsync();
        await Orders.DisposeAsync();
        await Hostile.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>The agent is alive, answers /ping, and never logged an unhandled error.</summary>
    public async Task AssertStillServingAsync()
    {
        Assert.False(Agent.HasExited, "the agent process died: " + Agent.Stderr);
        Assert.Equal("pong", await Client.GetStringAsync("ping"));
        var stdout = Agent.Stdout;
        var unhandled = stdout.IndexOf("Unhandled error", StringComparison.Ordinal);
        Assert.True(unhandled < 0, "the agent logged an unhandled error: " + (unhandled < 0 ? "" : stdout[unhandled..Math.Min(stdout.Length, unhandled + 3000)]));
    }

    // Route parameters: a known service, a known config key, a path below the service.
    private static string Fill(string template) => template
        .Replace("{serviceId}", "orders", StringComparison.Ordinal)
        .Replace("{name}", "orders", StringComparison.Ordinal)
        .Replace("{service}", "orders", StringComparison.Ordinal)
        .Replace("{**key}", "message", StringComparison.Ordinal)
        .Replace("{**path}", "api/x", StringComparison.Ordinal);
}

/// <summary>
/// Issue 9, scenario 5: hostile input against every route of the index. Every answer must be a clear
/// 4xx (a problem with X-Sidecar-Error when the agent wrote it; Kestrel's bare status when it refused
/// the request before the agent saw it), never a 5xx of the agent's own (a 505 for an HTTP version
/// that does not exist is Kestrel's; the upstream here is always up, so a forwarder's 502/503 would be
/// the agent's fault), never a stack trace; memory stays bounded and the agent keeps serving.
/// </summary>
public sealed class HostileInputTests(HostileAgentFixture fixture, ITestOutputHelper output) : IClassFixture<HostileAgentFixture>
{
    private static readonly string Huge = new('a', 40 * 1024);

    /// <summary>Each mutation turns (method, path) into the bytes of one hostile request.</summary>
    private static readonly (string Name, Func<string, string, string> Build)[] Mutations =
    [
        ("query: lone %", (m, p) => Request(m, p + "?%")),
        ("query: bad escape", (m, p) => Request(m, p + "?a=%zz&%G0=1")),
        ("query: invalid UTF-8 escapes", (m, p) => Request(m, p + "?id=%ff%fe&vip=%c0%ae&path=%ed%a0%80")),
        ("query: empty pairs", (m, p) => Request(m, p + "?&&&==&=&id&vip=&path=")),
        ("query: 1500 parameters", (m, p) => Request(m, p + "?" + string.Concat(Enumerable.Repeat("id=a&", 1500)))),
        ("query: 9 KiB value", (m, p) => Request(m, p + "?x=" + new string('q', 9 * 1024))),
        ("query: encoded NUL and CR/LF", (m, p) => Request(m, p + "?id=%00&path=/x%0d%0aHost:%20evil&wait=%0a")),
        ("path: traversal", (m, p) => Request(m, p + "/../../../../etc/passwd")),
        ("path: encoded traversal", (m, p) => Request(m, p + "/%2e%2e%2f%2e%2e%2fetc%2fpasswd")),
        ("path: raw invalid UTF-8", (m, p) => Request(m, p + "/\u00ff\u00fe")),
        ("path: encoded invalid UTF-8", (m, p) => Request(m, p + "/%ff%c0%af")),
        ("path: backslashes", (m, p) => Request(m, p + "\\..\\..\\x")),
        ("path: 4 KiB segment", (m, p) => Request(m, p + "/" + new string('s', 4096))),
        ("header: bare CR", (m, p) => Request(m, p, "X-Evil: a\rInjected: b")),
        ("header: LF inside a value", (m, p) => Request(m, p, "X-Evil: a\nInjected b")),
        ("header: NUL", (m, p) => Request(m, p, "X-Evil: a\0b")),
        ("header: invalid UTF-8 bytes", (m, p) => Request(m, p, "X-Evil: \u00ff\u00fe\u00c0")),
        ("header: 40 KiB value", (m, p) => Request(m, p, "X-Huge: " + Huge)),
        ("header: 150 headers", (m, p) => Request(m, p, string.Join("\r\n", Enumerable.Range(0, 150).Select(i => $"X-H{i}: v")))),
        ("header: no colon", (m, p) => Request(m, p, "NoColonHere")),
        ("header: obs-fold", (m, p) => Request(m, p, "X-Fold: a\r\n  folded")),
        ("header: two Hosts", (m, p) => Request(m, p, "Host: orders")),
        ("header: bad Content-Length", (m, p) => Request(m, p, "Content-Length: -1")),
        ("header: two Content-Lengths", (m, p) => Request(m, p, "Content-Length: 1\r\nContent-Length: 2", body: "ab")),
        ("header: Transfer-Encoding gzip", (m, p) => Request(m, p, "Transfer-Encoding: gzip")),
        ("header: TE and Content-Length", (m, p) => Request(m, p, "Transfer-Encoding: chunked\r\nContent-Length: 3", body: "0\r\n\r\n")),
        ("header: hostile forwarding headers", (m, p) => Request(m, p, "X-Request-Timeout: 1e308\r\nIdempotency-Key: " + new string('k', 8000) + "\r\ntraceparent: 00-zz-zz-zz\r\nX-Forwarded-For: ::::, 999.1.1.1")),
        ("header: X-Request-Timeout NaN", (m, p) => Request(m, p, "X-Request-Timeout: NaN")),
        ("header: X-Request-Timeout Infinity and -0", (m, p) => Request(m, p, "X-Request-Timeout: Infinity\r\nX-Request-Timeout: -0")),
        ("header: Connection naming 90 headers", (m, p) => Request(m, p, "Connection: keep-alive, " + string.Join(", ", Enumerable.Range(0, 90).Select(i => $"X-C{i}")))),
        ("header: malformed trace context", (m, p) => Request(m, p, "traceparent: ff-" + new string('0', 32) + "-" + new string('0', 16) + "-zz\r\ntracestate: " + new string('t', 8000))),
        ("header: If-None-Match junk", (m, p) => Request(m, p, "If-None-Match: W/, ,*,\"\", W/\"")),
        ("header: UTF-8 value", (m, p) => Request(m, p, "X-User: Jos\u00c3\u00a9\r\nContent-Disposition: attachment; filename=\"r\u00c3\u00a9sum\u00c3\u00a9.pdf\"")),
        ("header: Latin-1 value", (m, p) => Request(m, p, "X-User: Jos\u00e9")),
        ("header: C0 controls and DEL in a value", (m, p) => Request(m, p, "X-Evil: a\u0001b\u001bc\u007f")),
        ("header: foreign Origin", (m, p) => Request(m, p, "Origin: http://evil.example")),
        ("header: Origin null", (m, p) => Request(m, p, "Origin: null")),
        ("header: Sec-Fetch-Site same-site", (m, p) => Request(m, p, "Sec-Fetch-Site: same-site")),
        ("header: spoofed client address", (m, p) => Request(m, p, "Forwarded: for=6.6.6.6;by=evil\r\nX-Real-IP: 6.6.6.6")),
        ("header: Expect 100-continue, body sent at once", (m, p) => Request(m, p, "Expect: 100-continue\r\nContent-Type: text/plain", body: "0123456789")),
        ("body: invalid UTF-8 JSON", (m, p) => Request(m, p, "Content-Type: application/json", body: "{\"status\":\"\u00ff\u00fe\"}")),
        ("body: nesting 10000 deep", (m, p) => Request(m, p, "Content-Type: application/json", body: new string('[', 10000) + new string(']', 10000))),
        ("body: 2 MiB", (m, p) => Request(m, p, "Content-Type: application/octet-stream", body: new string('b', 2 * 1024 * 1024))),
        ("body: bad chunk size", (m, p) => Request(m, p, "Transfer-Encoding: chunked", body: "zz\r\nabc\r\n0\r\n\r\n")),
        ("body: chunk size overflow", (m, p) => Request(m, p, "Transfer-Encoding: chunked", body: "FFFFFFFFFFFFFFFFFF\r\nabc\r\n")),
        ("body: longer than Content-Length (smuggling)", (m, p) => Request(m, p, "Content-Length: 5", body: "hello" + "GET /v1/invoke/orders/smuggled HTTP/1.1\r\nHost: x\r\n\r\n")),
        ("method: unknown", (_, p) => Request("FROBNICATE", p)),
        ("method: lower case", (_, p) => Request("get", p)),
        ("method: 300 characters", (_, p) => Request(new string('M', 300), p)),
        ("method: invalid token", (_, p) => Request("G(T", p)),
        ("method: TRACE", (_, p) => Request("TRACE", p)),
        ("version: HTTP/1.0 without Host", (m, p) => $"{m} {p} HTTP/1.0\r\nConnection: close\r\n\r\n"),
        ("version: HTTP/2.0 in an HTTP/1 line", (m, p) => $"{m} {p} HTTP/2.0\r\nHost: x\r\n\r\n"),
        ("version: garbage", (m, p) => $"{m} {p} HTTQ/1.1\r\nHost: x\r\n\r\n"),
        ("target: absolute, unknown host", (m, p) => $"{m} http://169.254.169.254{p} HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n"),
        ("target: absolute, agent itself", (m, p) => $"{m} http://127.0.0.1:{{agent}}{p} HTTP/1.1\r\nHost: 127.0.0.1:{{agent}}\r\nConnection: close\r\n\r\n"),
        ("target: authority form", (m, _) => $"{m} orders:80 HTTP/1.1\r\nHost: orders:80\r\nConnection: close\r\n\r\n"),
        ("target: asterisk", (m, _) => $"{m} * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("target: a dotted service name in Host", (m, p) => $"{m} {p} HTTP/1.1\r\nHost: orders.evil.example\r\nConnection: close\r\n\r\n"),
    ];

    private static string Request(string method, string path, string? headers = null, string? body = null)
    {
        var builder = new StringBuilder().Append(method).Append(' ').Append(path).Append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        if (headers is not null)
        {
            builder.Append(headers).Append("\r\n");
        }

        if (body is not null && !(headers ?? "").Contains("Content-Length", StringComparison.Ordinal) && !(headers ?? "").Contains("Transfer-Encoding", StringComparison.Ordinal))
        {
            builder.Append("Content-Length: ").Append(Encoding.Latin1.GetByteCount(body)).Append("\r\n");
        }

        return builder.Append("\r\n").Append(body).ToString();
    }

    /// <summary>The properties every answer to hostile input must have; returns what was wrong, or null.</summary>
    /// <param name="upstreamsHealthy">False where the test breaks the instances itself (the soak): the forwarder's
    /// own 502/503/504 with X-Sidecar-Error are then the instances' doing.</param>
    internal static string? Judge(RawAnswer answer, string request, bool forwarded, bool upstreamsHealthy = true)
    {
        if (!answer.Answered)
        {
            return answer.TimedOut ? "no answer within the time-out" : "closed without an answer";
        }

        if (RawClient.StackTraceMarkers.IsMatch(answer.Head + answer.Body))
        {
            return "a stack trace or exception name in the answer";
        }

        var code = answer.Header("X-Sidecar-Error");
        if (code is not null && answer.Header("Content-Type")?.StartsWith("application/problem+json", StringComparison.Ordinal) != true)
        {
            return "X-Sidecar-Error without a problem body";
        }

        if (answer.Status < 500)
        {
            return null;
        }

        // Kestrel's answer to an HTTP version that does not exist.
        var requestLine = request.Split("\r\n")[0];
        if (answer.Status == 505 && !requestLine.EndsWith(" HTTP/1.1", StringComparison.Ordinal) && !requestLine.EndsWith(" HTTP/1.0", StringComparison.Ordinal))
        {
            return null;
        }

        // The forwarder's own 502/503/504 are fine when the instance is their cause; here it is always up and
        // quick, so only a deadline the caller asked for (X-Request-Timeout) may end a forwarded call with a 504.
        if (forwarded && answer.Status == 504 && code is "deadline-exceeded" or "upstream-timeout" &&
            request.Contains("X-Request-Timeout", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (forwarded && !upstreamsHealthy && answer.Status is 502 or 503 or 504 && code is not null)
        {
            return null;
        }

        // An instance's own 5xx, passed on as it came (no X-Sidecar-Error), is the instance's.
        if (forwarded && !upstreamsHealthy && code is null)
        {
            return null;
        }

        return $"a {answer.Status} from the agent";
    }

    [Fact]
    public async Task EveryRoute_WithEveryHostileRequest_AnswersA4xxWithoutStackTrace_MemoryStaysBounded_AndTheAgentKeepsServing()
    {
        var pid = fixture.Agent.Id;
        var rssBefore = RawClient.RssMiB(pid);
        var statuses = new SortedDictionary<int, int>();
        var problems = new List<string>();
        var sent = 0;
        var forwardedBefore = fixture.Orders.Count;
        var watch = Stopwatch.StartNew();
        var rssPeak = rssBefore;

        foreach (var (methods, path) in fixture.Routes)
        {
            var method = methods[0] == "*" ? "POST" : methods[0];
            var forwarded = path.StartsWith("/v1/invoke", StringComparison.Ordinal) || path.StartsWith("/proxy", StringComparison.Ordinal);
            var target = path == "/proxy" ? "/proxy?vip=orders&path=/x" : path;
            await Parallel.ForEachAsync(Mutations, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (mutation, _) =>
            {
                var request = mutation.Build(method, target).Replace("{agent}", fixture.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
                var answer = await RawClient.SendAsync(fixture.Port, RawClient.Bytes(request), TimeSpan.FromSeconds(15));
                lock (statuses)
                {
                    sent++;
                    statuses[answer.Status] = statuses.GetValueOrDefault(answer.Status) + 1;
                    if (Judge(answer, request, forwarded) is { } wrong)
                    {
                        problems.Add($"{method} {target} [{mutation.Name}]: {wrong} ({answer})");
                    }
                }
            });
            rssPeak = Math.Max(rssPeak, RawClient.RssMiB(pid));
        }

        await fixture.AssertStillServingAsync();
        var rssAfter = RawClient.RssMiB(pid);
        new Figures($"hostile input: every route x {Mutations.Length} hostile requests")
        {
            Sent = sent,
            Succeeded = sent - problems.Count,
            Failed = problems.Count,
        }.Note($"{fixture.Routes.Count} routes; statuses {string.Join(", ", statuses.Select(s => $"{s.Key}: {s.Value}"))}")
         .Note($"{fixture.Orders.Count - forwardedBefore} reached the upstream (safe ones); agent RSS {rssBefore:0} -> peak {rssPeak:0} -> {rssAfter:0} MiB; {watch.Elapsed.TotalSeconds:0.0} s")
         .Report(output);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.DoesNotContain(fixture.Orders.Seen, r => r.RawTarget.Contains("smuggled", StringComparison.Ordinal));
        Assert.True(rssPeak < rssBefore + 150, $"RSS grew from {rssBefore:0} to {rssPeak:0} MiB");
    }

    /// <summary>
    /// Issue 13, points 3 and 4: what an instance may answer that HttpClient and Kestrel do not take as it comes,
    /// each with what the caller must get: the answer relayed (non-ASCII header values as their bytes, a header
    /// with a control character dropped), or the agent's own 502 when nothing of it can be passed on.
    /// </summary>
    internal static readonly (string Name, string Answer, int Status)[] HostileAnswers =
    [
        ("utf8-filename", "HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"r\u00c3\u00a9sum\u00c3\u00a9.pdf\"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", 200),
        ("obs-text", "HTTP/1.1 200 OK\r\nX-Latin: caf\u00e9 cr\u00e8me\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", 200),
        ("control-character", "HTTP/1.1 200 OK\r\nX-Ctl: a\u0001b\r\nX-Del: \u007f\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", 200),
        ("non-ascii-reason", "HTTP/1.1 200 Tr\u00e8s bien\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", 200),
        ("unasked-upgrade", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u0081\u0005hello", 502),
        ("huge-header", "HTTP/1.1 200 OK\r\nX-Huge: " + new string('h', 100 * 1024) + "\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", 502),
        ("bad-status-line", "HTTP/1.1 2000 What\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", 502),
    ];

    [Fact]
    public async Task HostileUpstreamAnswers_AreRelayedOrA502_NeverA500NorAStackTrace()
    {
        var problems = new List<string>();
        var statuses = new SortedDictionary<int, int>();
        var sent = 0;
        for (var round = 0; round < 10; round++)
        {
            foreach (var (name, _, expected) in HostileAnswers)
            {
                var answer = await RawClient.SendAsync(fixture.Port, RawClient.Bytes($"GET /v1/invoke/hostile/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"), TimeSpan.FromSeconds(15));
                sent++;
                statuses[answer.Status] = statuses.GetValueOrDefault(answer.Status) + 1;
                if (answer.Status != expected || RawClient.StackTraceMarkers.IsMatch(answer.Head + answer.Body) ||
                    (expected == 502 && answer.Header("X-Sidecar-Error") is null) || (expected == 200 && answer.Body != "ok"))
                {
                    problems.Add($"{name}: {answer}");
                }
            }
        }

        await fixture.AssertStillServingAsync();
        new Figures($"hostile input: hostile upstream answers, {HostileAnswers.Length} kinds x 10")
        {
            Sent = sent,
            Succeeded = sent - problems.Count,
            Failed = problems.Count,
        }.Note($"statuses {string.Join(", ", statuses.Select(s => $"{s.Key}: {s.Value}"))}: relayed as the instance's bytes, control-character headers dropped, 502 where nothing can be passed on")
         .Report(output);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task SlowClients_TrickledHeadersAndBodies_AreCutOff_WhileOthersAreServed()
    {
        const int SlowHeaders = 150;
        const int SlowBodies = 30;
        var watch = Stopwatch.StartNew();
        var headerTrickles = Enumerable.Range(0, SlowHeaders).Select(_ => TrickleAsync(
            "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", "a", TimeSpan.FromSeconds(20))).ToArray();
        var bodyTrickles = Enumerable.Range(0, SlowBodies).Select(i => TrickleAsync(
            (i % 2 == 0 ? "PUT /v1/registration/status" : "POST /v1/invoke/orders/upload") + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n{",
            " ", TimeSpan.FromSeconds(20))).ToArray();

        // While they trickle, everybody else is served at once.
        await Task.Delay(1000);
        var latencies = new List<double>();
        for (var i = 0; i < 50; i++)
        {
            var started = Stopwatch.GetTimestamp();
            Assert.Equal("pong", await fixture.Client.GetStringAsync("ping"));
            latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        var headerEnds = await Task.WhenAll(headerTrickles);
        var bodyEnds = await Task.WhenAll(bodyTrickles);
        await fixture.AssertStillServingAsync();

        new Figures("hostile input: slowloris (150 trickled headers, 30 trickled bodies)")
        {
            Sent = SlowHeaders + SlowBodies + latencies.Count,
            Succeeded = latencies.Count,
            Failed = 0,
            Lost = "n/a",
        }.Note($"trickled headers cut off after {headerEnds.Min(e => e.After.TotalSeconds):0.0}-{headerEnds.Max(e => e.After.TotalSeconds):0.0} s ({Describe(headerEnds)}); trickled bodies after {bodyEnds.Min(e => e.After.TotalSeconds):0.0}-{bodyEnds.Max(e => e.After.TotalSeconds):0.0} s ({Describe(bodyEnds)})")
         .Note($"50 normal calls meanwhile: max {latencies.Max():0.0} ms; {watch.Elapsed.TotalSeconds:0.0} s")
         .Report(output);

        // RequestHeadersTimeout (10 s) and MinRequestBodyDataRate (240 B/s after 5 s): never the 20 s the clients would go on for.
        Assert.All(headerEnds, e => Assert.InRange(e.After, TimeSpan.FromSeconds(9), TimeSpan.FromSeconds(16)));
        Assert.All(bodyEnds, e => Assert.InRange(e.After, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(12)));
        // 413: the trickled PUT /v1/registration/status declares 100000 bytes, over its 4 KiB cap (answered at once, then cut off like the rest).
        Assert.All(headerEnds, e => Assert.True(e.Status is 0 or 400 or 408, $"a slow client got {e.Status}"));
        Assert.All(bodyEnds, e => Assert.True(e.Status is 0 or 400 or 408 or 413, $"a slow client got {e.Status}"));
        Assert.True(latencies.Max() < 1000, $"a normal call waited {latencies.Max():0} ms behind the slow ones");
    }

    [Fact]
    public async Task ThreeThousandConnectionsAtOnce_AreServed_HandlesAreReleased_AndThePublicListenerIsCapped()
    {
        const int Count = 3000;
        var pid = fixture.Agent.Id;
        var handlesBefore = RawClient.OpenHandles(pid);
        var rssBefore = RawClient.RssMiB(pid);
        var sockets = new List<Socket>(Count);
        var served = 0;
        try
        {
            // 3000 keep-alive connections, each with one answered request, all held open together.
            await Parallel.ForEachAsync(Enumerable.Range(0, Count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                lock (sockets)
                {
                    sockets.Add(socket);
                }

                // Bounded: an agent that stopped answering makes this connection a failure, counted below, not a hung test.
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                try
                {
                    await socket.ConnectAsync(IPAddress.Loopback, fixture.Port, timeout.Token);
                    await socket.SendAsync(RawClient.Bytes("GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), SocketFlags.None, timeout.Token);
                    var buffer = new byte[1024];
                    var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                    if (Encoding.Latin1.GetString(buffer, 0, read).EndsWith("pong", StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref served);
                    }
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
                {
                    // not answered within 10 s: one of Count - served
                }
                catch (SocketException)
                {
                    // refused or reset: one of Count - served
                }
            });
            var handlesHeld = RawClient.OpenHandles(pid);
            var rssHeld = RawClient.RssMiB(pid);
            Assert.Equal("pong", await fixture.Client.GetStringAsync("ping"));

            // The public health listener holds at most 256: the others are closed at once.
            var (publicServed, publicClosed) = await OpenPublicConnectionsAsync(300);
            Assert.Equal(256, publicServed);
            Assert.Equal(44, publicClosed);

            foreach (var socket in sockets)
            {
                socket.Dispose();
            }

            await Eventually.TrueAsync(() => RawClient.OpenHandles(pid) < handlesBefore + 50, "the agent released the connections' handles", TimeSpan.FromSeconds(10));
            var handlesAfter = RawClient.OpenHandles(pid);
            await fixture.AssertStillServingAsync();
            using var publicClient = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{fixture.PublicPort}/") };
            Assert.Equal("pong", await publicClient.GetStringAsync("ping"));

            new Figures("hostile input: 3000 connections at once")
            {
                Sent = Count + 300,
                Succeeded = served + publicServed,
                Failed = Count - served,
                Lost = "0 handles",
            }.Note($"agent handles {handlesBefore} -> {handlesHeld} held -> {handlesAfter} after close; RSS {rssBefore:0} -> {rssHeld:0} MiB")
             .Note($"public health listener: {publicServed} of 300 held, {publicClosed} closed at once (cap 256)")
             .Report(output);
            Assert.Equal(Count, served);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task Fuzz_ThreeThousandGeneratedRequests_NeverGetA5xxOrAStackTrace_AndTheAgentKeepsServing()
    {
        const int Count = 3000;
        var pid = fixture.Agent.Id;
        var rssBefore = RawClient.RssMiB(pid);
        var generator = new RequestFuzzer(new Random(20260409), fixture.Routes.Select(r => r.Path).ToArray(), fixture.Port);
        var requests = Enumerable.Range(0, Count).Select(_ => generator.Next()).ToArray();
        var statuses = new SortedDictionary<int, int>();
        var problems = new List<string>();
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (request, _) =>
        {
            var answer = await RawClient.SendAsync(fixture.Port, request.Bytes, TimeSpan.FromSeconds(15));
            lock (statuses)
            {
                statuses[answer.Status] = statuses.GetValueOrDefault(answer.Status) + 1;
                if (Judge(answer, request.Text, request.Forwarded) is { } wrong)
                {
                    problems.Add($"{wrong} ({answer}) for: {request.Summary}");
                }

            }
        });
        var elapsed = watch.Elapsed;
        await fixture.AssertStillServingAsync();
        var rssAfter = RawClient.RssMiB(pid);

        new Figures("hostile input: fuzz, 3000 generated requests (seed 20260409)")
        {
            Sent = Count,
            Succeeded = Count - problems.Count,
            Failed = problems.Count,
        }.Note($"statuses {string.Join(", ", statuses.Select(s => $"{s.Key}: {s.Value}"))}; RSS {rssBefore:0} -> {rssAfter:0} MiB; {elapsed.TotalSeconds:0.0} s")
         .Report(output);
        Assert.True(problems.Count == 0, string.Join("\n", problems.Take(30)));
        Assert.DoesNotContain(fixture.Orders.Seen, r => r.RawTarget.Contains("smuggled", StringComparison.Ordinal));
        Assert.True(rssAfter < rssBefore + 150, $"RSS grew from {rssBefore:0} to {rssAfter:0} MiB");
    }

    private static string Describe(IEnumerable<(TimeSpan After, int Status)> ends) =>
        string.Join(", ", ends.GroupBy(e => e.Status).OrderBy(g => g.Key).Select(g => $"{(g.Key == 0 ? "closed" : g.Key.ToString(CultureInfo.InvariantCulture))} x{g.Count()}"));

    // Sends the head, then one more piece every second until the server ends the connection or the client gives up.
    private async Task<(TimeSpan After, int Status)> TrickleAsync(string head, string piece, TimeSpan giveUp)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, fixture.Port);
        var started = Stopwatch.StartNew();
        await socket.SendAsync(RawClient.Bytes(head), SocketFlags.None);
        var receive = ReceiveAllAsync(socket);
        while (started.Elapsed < giveUp && !receive.IsCompleted)
        {
            await Task.WhenAny(receive, Task.Delay(1000));
            try
            {
                if (!receive.IsCompleted)
                {
                    await socket.SendAsync(RawClient.Bytes(piece), SocketFlags.None);
                }
            }
            catch (SocketException)
            {
                break; // the server closed on us
            }
        }

        var answer = receive.IsCompleted ? await receive : "";
        return (started.Elapsed, RawClient.Parse(answer, false).Status);
    }

    private static async Task<string> ReceiveAllAsync(Socket socket)
    {
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (SocketException)
        {
            // reset by the server: what arrived is the answer
        }

        return Encoding.Latin1.GetString(received.ToArray());
    }

    // Opens connections to the public listener from 20 loopback addresses (15 each, under the per-address
    // cap), waits until those beyond the listener's cap are closed, then sends one request on each:
    // (answered, closed at once). Answers there close their connection and free a slot, so the refused
    // ones must be known before any request goes out.
    private async Task<(int Served, int Closed)> OpenPublicConnectionsAsync(int count)
    {
        var sockets = new List<Socket>();
        var served = 0;
        var closed = 0;
        try
        {
            for (var i = 0; i < count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                socket.Bind(new IPEndPoint(new IPAddress([127, 0, 0, (byte)(10 + (i % 20))]), 0));
                await socket.ConnectAsync(IPAddress.Loopback, fixture.PublicPort);
            }

            await Eventually.TrueAsync(() => sockets.Count(RawHttp.IsClosed) >= count - 256, "the connections beyond the cap were closed");
            sockets.RemoveAll(socket =>
            {
                if (!RawHttp.IsClosed(socket))
                {
                    return false;
                }

                closed++;
                socket.Dispose();
                return true;
            });

            await Task.WhenAll(sockets.Select(async socket =>
            {
                try
                {
                    await socket.SendAsync(RawClient.Bytes("GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), SocketFlags.None);
                    var buffer = new byte[1024];
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                    if (read > 0)
                    {
                        Interlocked.Increment(ref served);
                    }
                    else
                    {
                        Interlocked.Increment(ref closed);
                    }
                }
                catch (SocketException)
                {
                    Interlocked.Increment(ref closed);
                }
            }));
            return (served, closed);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }
}

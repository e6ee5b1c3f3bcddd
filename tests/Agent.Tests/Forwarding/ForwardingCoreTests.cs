using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Sidecar.Forwarding.Http1;
using Sidecar.Tests.Forwarding.Http1;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The forwarding core (docs/performance.md#the-forwarding-core) against Kestrel's pipeline: the same callers'
/// requests, on keep-alive connections, to an agent with the core and to one without it, and the same instance
/// behind both. What the caller reads (status line, fields, framing, body, whether the connection goes on), what the
/// instance receives and the request log's lines must be the same; the core must have answered the calls it takes.
/// </summary>
public sealed partial class ForwardingCoreTests
{
    private const string Host = "Host: 127.0.0.1:8078";

    /// <summary>The instance's answers, by the path it is asked for.</summary>
    private static Reply Answer(ReceivedRequest request)
    {
        var path = request.Head[(request.Head.IndexOf(' ', StringComparison.Ordinal) + 1)..];
        path = path[..path.IndexOf(' ', StringComparison.Ordinal)];
        var big = new string('b', 200_000);
        return path switch
        {
            "/len" => new(KeepAliveUpstream.Text("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Up: a\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nCache-Control: no-cache\r\n\r\nhello")),
            "/chunked" => new(KeepAliveUpstream.Text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")),
            "/until-close" => new(KeepAliveUpstream.Text("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end"), Close: true),
            "/204" => new(KeepAliveUpstream.Text("HTTP/1.1 204 No Content\r\nX-Up: none\r\n\r\n")),
            "/304" => new(KeepAliveUpstream.Text("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n")),
            "/201" => new(KeepAliveUpstream.Text("HTTP/1.1 201 Made It\r\nLocation: /x/1\r\nContent-Length: 2\r\n\r\nok")),
            "/control" => new(KeepAliveUpstream.Text("HTTP/1.1 200 OK\r\nX-Bad: a\u0001b\r\nX-Good: c\u00e9d\r\nContent-Length: 1\r\n\r\nx")),
            "/hop" => new(KeepAliveUpstream.Text("HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\nContent-Length: 2\r\n\r\nhi")),
            "/big" => new(KeepAliveUpstream.Text($"HTTP/1.1 200 OK\r\nContent-Length: {big.Length}\r\n\r\n{big}")),
            "/many" => new(KeepAliveUpstream.Text($"HTTP/1.1 200 OK\r\n{string.Concat(Enumerable.Range(1, 40).Select(i => $"X-Field-{i}: v{i}\r\n"))}Content-Length: 4\r\n\r\nmany")), // beyond the fields' first array
            "/404" => new(KeepAliveUpstream.Text("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnon")),
            "/agent-behind" => new(KeepAliveUpstream.Text("HTTP/1.1 404 Not Found\r\nX-Sidecar-Error: unknown-service\r\nContent-Length: 0\r\n\r\n")), // another agent's problem
            "/503" => new(KeepAliveUpstream.Text("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy")),
            "/two-lengths" => new(KeepAliveUpstream.Text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"), Close: true),
            "/gone" => new(null),
            _ => new(KeepAliveUpstream.Text("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\ndefault")),
        };
    }

    /// <summary>A request of a sequence and whether the core takes it.</summary>
    public sealed record Exchange(string Head, bool Taken, string? Body = null);

    /// <summary>Sequences of requests, each sent on one connection; the connection's answers are read in turn.</summary>
    public static TheoryData<string, string, Exchange[]> Sequences()
    {
        var data = new TheoryData<string, string, Exchange[]>();
        foreach (var mode in new[] { "errors", "all" })
        {
            foreach (var (name, exchanges) in SequenceList())
            {
                data.Add(mode, name, exchanges);
            }
        }

        return data;
    }

    private static Dictionary<string, Exchange[]> SequenceList() => new()
    {
        { "plain answers", [
            new($"GET /v1/invoke/orders/len HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/chunked HTTP/1.1\r\n{Host}\r\nAccept: text/plain", true),
            new($"HEAD /v1/invoke/orders/len HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/many HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/204 HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/304 HTTP/1.1\r\n{Host}\r\nIf-None-Match: \"v1\"", true),
            new($"DELETE /v1/invoke/orders/201 HTTP/1.1\r\n{Host}", true),
            new($"OPTIONS /v1/invoke/orders/404?q=1&r=%2F HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/control HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/agent-behind HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/hop HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/big HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/until-close HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/len HTTP/1.1\r\n{Host}\r\nConnection: close", true),
        ] },
        { "the caller's fields", [
            new($"GET /v1/invoke/orders/len HTTP/1.1\r\n{Host}\r\nX-Forwarded-For: 10.0.0.1\r\nForwarded: for=10.0.0.2\r\nX-Real-IP: 10.0.0.3\r\nVia: 1.1 edge", true),
            new($"GET /v1/invoke/orders/len HTTP/1.1\r\n{Host}\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\ntracestate: a=b", true),
            new($"GET /v1/invoke/orders/len HTTP/1.1\r\n{Host}\r\nX-Request-Timeout: 5s\r\nIdempotency-Key: k1\r\nKeep-Alive: timeout=3\r\nTE: trailers\r\nX-Kept: \u00e9t\u00e9\r\nX-Kept: twice\r\nX-Empty:", true),
            new($"GET /v1/invoke/orders/len HTTP/1.1\r\n{Host}\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1", false), // a Connection list is Kestrel's
        ] },
        { "failures", [
            new($"GET /v1/invoke/orders/503 HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/gone HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/two-lengths HTTP/1.1\r\n{Host}", true),
            new($"GET /v1/invoke/orders/len HTTP/1.1\r\n{Host}\r\nX-Request-Timeout: soon", false),
            new($"GET /v1/invoke/nobody/len HTTP/1.1\r\n{Host}", false),
            new($"DELETE /v1/invoke/orders/len HTTP/1.1\r\n{Host}", false), // Kestrel's from the refusal on: the connection stays its
        ] },
        { "Kestrel's requests, then the connection stays Kestrel's", [
            new($"GET /v1/invoke/orders/len HTTP/1.1\r\n{Host}", true),
            new($"POST /v1/invoke/orders/len HTTP/1.1\r\n{Host}\r\nContent-Length: 3", false, "abc"),
            new($"GET /v1/invoke/orders/len HTTP/1.1\r\n{Host}", false),
        ] },
        { "what the core leaves to Kestrel", [
            new($"GET /v1/invoke/orders/a%20b HTTP/1.1\r\n{Host}", false),
            new($"GET /proxy?vip=orders&path=/len HTTP/1.1\r\n{Host}", false),
        ] },
        { "a browser", [
            new($"GET /v1/invoke/orders/len HTTP/1.1\r\n{Host}\r\nSec-Fetch-Site: cross-site", false),
        ] },
        { "the Host form", [
            new("GET /len HTTP/1.1\r\nHost: orders", true),
            new("GET /v1/invoke/orders/len HTTP/1.1\r\nHost: orders:8078", true), // the whole target goes to the Host's service
            new("HEAD /chunked?a=b HTTP/1.1\r\nHost: orders", true),
            new("GET /len HTTP/1.1\r\nHost: orders.internal", false), // a dotted name: the 421
            new("GET /len HTTP/1.1\r\nHost: orders", false),
        ] },
        { "an unknown Host", [
            new("GET /len HTTP/1.1\r\nHost: nobody", false),
        ] },
        { "the absolute form", [
            new("GET http://orders/len HTTP/1.1\r\nHost: orders", true),
            new("GET http://orders/gone HTTP/1.1\r\nHost: orders", true),
            new("DELETE http://orders/201?x=1 HTTP/1.1\r\nHost: orders\r\nX-Forwarded-For: 10.0.0.1", true),
            new("GET http://nobody/len HTTP/1.1\r\nHost: nobody", false), // the unknown service's 404
            new("GET http://orders/len HTTP/1.1\r\nHost: orders", false),
        ] },
        { "the absolute form of the agent itself", [
            new("GET http://127.0.0.1/v1/invoke/orders/len HTTP/1.1\r\nHost: 127.0.0.1", false),
            new("GET http://localhost/len HTTP/1.1\r\nHost: localhost", false),
        ] },
    };

    [Theory]
    [MemberData(nameof(Sequences))]
    public async Task TheCore_AnswersAsKestrelsPipeline(string requestLog, string sequence, Exchange[] steps)
    {
        await using var instance = new KeepAliveUpstream((_, request) => Answer(request));
        var routes = $"orders={instance.Url.ToString().TrimEnd('/')}";
        var coreLog = new LogCapture();
        var kestrelLog = new LogCapture();
        await using var core = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = routes, ["Sidecar__RequestLog"] = requestLog, ["Forwarding__Core"] = "true" }, coreLog.Install);
        await using var kestrel = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = routes, ["Sidecar__RequestLog"] = requestLog, ["Forwarding__Core"] = "false" }, kestrelLog.Install);
        var served = core.Get<ForwardingCore>();

        var before = instance.Requests.Count;
        var coreAnswers = await SendAsync(core.BaseUri.Port, steps, () => served.Served);
        var coreSeen = instance.Requests.Skip(before).ToList();
        before = instance.Requests.Count;
        var kestrelAnswers = await SendAsync(kestrel.BaseUri.Port, steps, () => 0);
        var kestrelSeen = instance.Requests.Skip(before).ToList();

        for (var i = 0; i < steps.Length; i++)
        {
            var (coreAnswer, taken) = coreAnswers[i];
            Assert.True(steps[i].Taken == taken, $"{sequence}, request {i + 1}: taken by the core {taken}, expected {steps[i].Taken}");
            Assert.Equal(kestrelAnswers[i].Answer, coreAnswer);
        }

        Assert.Equal(kestrelSeen.Count, coreSeen.Count);
        for (var i = 0; i < coreSeen.Count; i++)
        {
            Assert.Equal(RequestLine(kestrelSeen[i].Head) + Fields(kestrelSeen[i].Head, instance: true), RequestLine(coreSeen[i].Head) + Fields(coreSeen[i].Head, instance: true));
            Assert.Equal(kestrelSeen[i].Body, coreSeen[i].Body);
        }

        // A line is written after its answer: give the last ones a moment to arrive.
        for (var wait = 0; wait < 50 && !RequestLines(kestrelLog).SequenceEqual(RequestLines(coreLog)); wait++)
        {
            await Task.Delay(100);
        }

        Assert.Equal(RequestLines(kestrelLog), RequestLines(coreLog));
        Assert.True(requestLog != "all" || RequestLines(coreLog).Count() >= steps.Length, "every call has its line");
    }

    [Fact]
    public async Task AnIdleConnection_TheCoreKeeps_ClosesWhenTheAgentStops()
    {
        await using var instance = new KeepAliveUpstream((_, request) => Answer(request));
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={instance.Url.ToString().TrimEnd('/')}", ["Forwarding__Core"] = "true" });
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, agent.BaseUri.Port);
        var reader = new AnswerReader(socket);
        await socket.SendAsync(Encoding.Latin1.GetBytes($"GET /v1/invoke/orders/len HTTP/1.1\r\n{Host}\r\n\r\n"));
        var answer = await reader.ReadAsync(head: false);
        Assert.StartsWith("HTTP/1.1 200 OK", answer, StringComparison.Ordinal);
        Assert.Equal(1, agent.Get<ForwardingCore>().Served);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await agent.StopAsync(stop.Token);
        Assert.True(await reader.ClosedAsync(TimeSpan.FromSeconds(10)), "the agent closed the idle connection as it stopped");
    }

    [Fact]
    public async Task AnIdleConnection_TheCoreKeeps_EndsAfterTheKeepAliveTimeOut_CountedFromItsLastAnswer()
    {
        await using var instance = new KeepAliveUpstream((_, request) => Answer(request));
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={instance.Url.ToString().TrimEnd('/')}", ["Forwarding__Core"] = "true" });
        var core = agent.Get<ForwardingCore>();
        core.KeepAlive = TimeSpan.FromMilliseconds(2500);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, agent.BaseUri.Port);
        var reader = new AnswerReader(socket);

        // Four requests 1 s apart: over 3 s on one connection (a time-out counted from the first answer would end it before
        // the fourth), never 2.5 s idle (1.5 s to spare for a loaded machine), so it serves them all.
        for (var i = 0; i < 4; i++)
        {
            if (i > 0)
            {
                Assert.False(await reader.ClosedAsync(TimeSpan.FromSeconds(1)), $"the connection ended {i} s in, under 2.5 s after its last answer");
            }

            await socket.SendAsync(Encoding.Latin1.GetBytes($"GET /v1/invoke/orders/len HTTP/1.1\r\n{Host}\r\n\r\n"));
            Assert.StartsWith("HTTP/1.1 200 OK", await reader.ReadAsync(head: false), StringComparison.Ordinal);
        }

        Assert.Equal(4, core.Served);
        var idle = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(await reader.ClosedAsync(TimeSpan.FromSeconds(10)), "the idle connection ended");
        Assert.InRange(idle.Elapsed, TimeSpan.FromMilliseconds(2200), TimeSpan.FromSeconds(8));
    }

    [Theory]
    [InlineData("true")]
    [InlineData("false")]
    public async Task TheAddedFields_AreEachCallsOwn_OnAConnectionThatChangesThem(string core)
    {
        // A connection's call takes the last call's added lines when its values are the same (ForwardedLines): each call
        // below changes one of them, or goes back to the first ones.
        await using var instance = new KeepAliveUpstream((_, request) => Answer(request));
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={instance.Url.ToString().TrimEnd('/')}", ["Forwarding__Core"] = core });
        var port = agent.BaseUri.Port;
        string[] calls = [$"Host: 127.0.0.1:{port}", $"Host: 127.0.0.1:{port}", $"Host: 127.0.0.1:{port}\r\nX-Forwarded-For: 10.0.0.1", $"Host: 127.0.0.1:{port}",
            $"Host: 127.0.0.1:{port}\r\nVia: 1.0 edge", $"Host: localhost:{port}", $"Host: 127.0.0.1:{port}"];
        var before = instance.Requests.Count;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        var reader = new AnswerReader(socket);
        foreach (var fields in calls)
        {
            await socket.SendAsync(Encoding.Latin1.GetBytes($"GET /v1/invoke/orders/len HTTP/1.1\r\n{fields}\r\n\r\n"));
            Assert.StartsWith("HTTP/1.1 200 OK", await reader.ReadAsync(head: false), StringComparison.Ordinal);
        }

        var seen = instance.Requests.Skip(before).Select(r => Fields(r.Head, instance: true).Split('\n')
            .Where(f => f.StartsWith("x-forwarded-", StringComparison.Ordinal) || f.StartsWith("via:", StringComparison.Ordinal))).Select(f => string.Join(" | ", f)).ToList();
        var agentOnly = $"via: 1.1 sidecar-(agent) | x-forwarded-for: 127.0.0.1 | x-forwarded-host: 127.0.0.1:{port} | x-forwarded-proto: http";
        Assert.Equal(
            [agentOnly, agentOnly, agentOnly.Replace("for: 127", "for: 10.0.0.1, 127", StringComparison.Ordinal), agentOnly,
                agentOnly.Replace("via: ", "via: 1.0 edge, ", StringComparison.Ordinal), agentOnly.Replace("host: 127.0.0.1", "host: localhost", StringComparison.Ordinal), agentOnly],
            seen);
        Assert.Equal(core == "true" ? calls.Length : 0, agent.Get<ForwardingCore>().Served);
    }

    [Theory]
    [InlineData("true")]
    [InlineData("false")]
    public async Task EachAnswer_OnOneConnection_CarriesItsOwnBody_AfterOnesWithNone(string core)
    {
        // The core takes a connection's last answer again, with its content and body stream (LeanResponse.For): a body
        // follows an answer without one, and the reverse, on the same connection to the same instance.
        await using var instance = new KeepAliveUpstream((_, request) => Answer(request));
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={instance.Url.ToString().TrimEnd('/')}", ["Forwarding__Core"] = core });
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, agent.BaseUri.Port);
        var reader = new AnswerReader(socket);
        var answers = new List<string>();
        foreach (var path in new[] { "/204", "/len", "/304", "/201", "/chunked", "/204", "/404", "/len" })
        {
            await socket.SendAsync(Encoding.Latin1.GetBytes($"GET /v1/invoke/orders{path} HTTP/1.1\r\n{Host}\r\n\r\n"));
            var answer = await reader.ReadAsync(head: false);
            answers.Add($"{answer[9..12]} {answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..].Replace("\r\n", "|", StringComparison.Ordinal)}");
        }

        Assert.Equal(["204 ", "200 hello", "304 ", "201 ok", "200 (chunked)abcdefg", "204 ", "404 non", "200 hello"], answers);
        Assert.Equal(1, instance.Connections);
    }

    [Theory]
    [InlineData("true")]
    [InlineData("false")]
    public async Task ACallerThatLeaves_EndsTheCallToTheInstance(string core)
    {
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var instance = await Upstream.StartAsync("orders", async (context, _) =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                ended.TrySetResult();
            }
        });
        var log = new LogCapture();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={instance.Url}", ["Forwarding__Core"] = core }, log.Install);
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync(IPAddress.Loopback, agent.BaseUri.Port);
            await socket.SendAsync(Encoding.Latin1.GetBytes($"GET /v1/invoke/orders/slow HTTP/1.1\r\n{Host}\r\n\r\n"));
            await Eventually.TrueAsync(() => instance.Count == 1, "the call reached the instance");
        }

        await ended.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(() => log.Contains("GET /v1/invoke/orders/slow 499"), "the call's line says the caller left");
        Assert.Equal(core == "true" ? 1 : 0, agent.Get<ForwardingCore>().Served); // counted before the line is written
    }

    /// <summary>Each step's answer (normalised: no Date value, fields sorted by name) and whether the core counted it.</summary>
    private static async Task<List<(string Answer, bool Taken)>> SendAsync(int port, Exchange[] steps, Func<long> served)
    {
        var answers = new List<(string, bool)>();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        var reader = new AnswerReader(socket);
        foreach (var step in steps)
        {
            var before = served();
            await socket.SendAsync(Encoding.Latin1.GetBytes(step.Head + "\r\n\r\n" + step.Body));
            var answer = await reader.ReadAsync(head: step.Head.StartsWith("HEAD ", StringComparison.Ordinal));
            var closes = await reader.ClosedAsync(TimeSpan.FromMilliseconds(answer.Contains("\r\nConnection: close", StringComparison.OrdinalIgnoreCase) ? 5000 : 50));
            answers.Add((Normalise(answer) + (closes ? "\n(closed)" : ""), served() != before));
            if (closes)
            {
                break;
            }
        }

        return answers;
    }

    private static string Normalise(string answer)
    {
        var split = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = answer[..split];
        var statusLine = head[..head.IndexOf("\r\n", StringComparison.Ordinal)];
        return statusLine + "\n" + Fields(head, instance: false) + "\n\n" + answer[(split + 4)..];
    }

    /// <summary>A head's fields, one line per name (lower case, sorted), its values in order; the ids a call makes itself masked.</summary>
    private static string Fields(string head, bool instance)
    {
        var lines = head.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(line => (Name: line[..line.IndexOf(':', StringComparison.Ordinal)].ToLowerInvariant(), Value: line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()))
            .GroupBy(f => f.Name)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => g.Key + ": " + string.Join(", ", g.Select(f => f.Name switch
            {
                "date" => "(date)",
                "traceparent" when instance => TraceIds().Replace(f.Value, "(id)"),
                "via" when instance => TraceIds().Replace(f.Value, "(agent)"), // each agent's own name
                _ => f.Value,
            })));
        return string.Join("\n", lines);
    }

    private static string RequestLine(string head) => head[..(head.IndexOf("\r\n", StringComparison.Ordinal) + 1)];

    private static IEnumerable<string> RequestLines(LogCapture log) =>
        log.Entries.Where(e => e.Contains("RequestLoggingMiddleware", StringComparison.Ordinal) || e.Contains("ErrorHandlingMiddleware", StringComparison.Ordinal))
            .Select(e => ElapsedMs().Replace(e, "(ms)"));

    [GeneratedRegex("[0-9a-f]{16,32}")]
    private static partial Regex TraceIds();

    [GeneratedRegex(@"[0-9]+(\.[0-9]+)? ms|ElapsedMs=[0-9.]+")]
    private static partial Regex ElapsedMs();

    /// <summary>Reads answers off a connection, one at a time, by their framing (length, chunks, or the end of the connection).</summary>
    private sealed class AnswerReader(Socket socket)
    {
        private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();
        private static readonly byte[] LineEnd = "\r\n"u8.ToArray();

        private readonly List<byte> _pending = [];
        private readonly byte[] _buffer = new byte[65536];
        private bool _ended;

        public async Task<string> ReadAsync(bool head)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            int end;
            while ((end = KeepAliveUpstream.IndexOf(_pending, HeadEnd)) < 0)
            {
                if (!await ReceiveAsync(timeout.Token))
                {
                    throw new InvalidOperationException("the connection ended before an answer's head: " + Encoding.Latin1.GetString([.. _pending]));
                }
            }

            var text = Encoding.Latin1.GetString(_pending.GetRange(0, end + 4).ToArray());
            _pending.RemoveRange(0, end + 4);
            var status = int.Parse(text.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
            var fields = text.Split("\r\n");
            string Field(string name) => fields.FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase)) is { } line ? line[(name.Length + 1)..].Trim() : "";
            byte[] body;
            if (head || status is 204 or 304 or < 200)
            {
                body = [];
            }
            else if (Field("Transfer-Encoding").Equals("chunked", StringComparison.OrdinalIgnoreCase))
            {
                body = await ReadChunkedAsync(timeout.Token);
                text += "(chunked)";
            }
            else if (Field("Content-Length") is { Length: > 0 } length)
            {
                body = await ReadAsync(int.Parse(length, System.Globalization.CultureInfo.InvariantCulture), timeout.Token);
            }
            else
            {
                while (await ReceiveAsync(timeout.Token))
                {
                }

                body = [.. _pending];
                _pending.Clear();
                text += "(to the end)";
            }

            return text + Encoding.Latin1.GetString(body);
        }

        /// <summary>Whether the connection ends (nothing more arrives, the peer closed) within <paramref name="wait"/>.</summary>
        public async Task<bool> ClosedAsync(TimeSpan wait)
        {
            if (_ended)
            {
                return true;
            }

            using var timeout = new CancellationTokenSource(wait);
            try
            {
                return !await ReceiveAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        private async Task<byte[]> ReadAsync(int length, CancellationToken cancellationToken)
        {
            while (_pending.Count < length && await ReceiveAsync(cancellationToken))
            {
            }

            var bytes = _pending.GetRange(0, Math.Min(length, _pending.Count)).ToArray();
            _pending.RemoveRange(0, bytes.Length);
            return bytes;
        }

        private async Task<byte[]> ReadChunkedAsync(CancellationToken cancellationToken)
        {
            var body = new List<byte>();
            while (true)
            {
                int end;
                while ((end = KeepAliveUpstream.IndexOf(_pending, LineEnd)) < 0)
                {
                    if (!await ReceiveAsync(cancellationToken))
                    {
                        return [.. body];
                    }
                }

                var size = Convert.ToInt32(Encoding.ASCII.GetString(_pending.GetRange(0, end).ToArray()), 16);
                _pending.RemoveRange(0, end + 2);
                if (size == 0)
                {
                    await ReadAsync(2, cancellationToken); // the empty trailer section
                    return [.. body];
                }

                body.AddRange(await ReadAsync(size + 2, cancellationToken));
                body.RemoveRange(body.Count - 2, 2);
            }
        }

        private async Task<bool> ReceiveAsync(CancellationToken cancellationToken)
        {
            if (_ended)
            {
                return false;
            }

            int read;
            try
            {
                read = await socket.ReceiveAsync(_buffer, SocketFlags.None, cancellationToken);
            }
            catch (SocketException)
            {
                read = 0; // reset
            }

            _pending.AddRange(_buffer.AsSpan(0, read));
            _ended = read == 0;
            return read > 0;
        }
    }
}

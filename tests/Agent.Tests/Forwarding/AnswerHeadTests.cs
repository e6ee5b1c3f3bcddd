using System.Buffers;
using System.Net;
using System.Text;
using Sidecar.Forwarding;
using Sidecar.Forwarding.Http1;
using Sidecar.Tests.Reliability;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The forwarding core's answer head (docs/performance.md#the-exchange) against Kestrel's: the same instance's answer
/// (status, fields as the lean client read them, body) is written by Kestrel set up as the agent's listeners, through
/// <see cref="ResponseHeaders.CopyFields"/> into its headers and the body through its stream, as the forwarder writes
/// it today, and by <see cref="AnswerHead"/> through the same rules. Compared: the status line, the fields (names
/// without case, each name's values in order, <c>Date</c> present once), the framing and the body's bytes.
/// </summary>
public sealed class AnswerHeadTests : IClassFixture<AnswerHeadTests.AnswerServer>
{
    private const string Date = "Fri, 04 Dec 2026 01:00:00 GMT";
    private readonly AnswerServer _kestrel;

    public AnswerHeadTests(AnswerServer kestrel) => _kestrel = kestrel;

    /// <summary>The caller's method, the instance's status, its fields ("\n" between them) and its body.</summary>
    public static TheoryData<string, int, string, string> Answers => new()
    {
        { "GET", 200, "Content-Type: text/plain\nContent-Length: 5", "hello" },
        { "HEAD", 200, "Content-Type: text/plain\nContent-Length: 5", "" },
        { "GET", 200, "Content-Type: text/plain", "a body of unknown length" },
        { "GET", 200, "Content-Type: text/plain", "" },
        { "HEAD", 200, "Content-Type: text/plain", "" },
        { "DELETE", 204, "X-A: 1", "" },
        { "GET", 204, "Content-Length: 0", "" },
        { "GET", 205, "Content-Length: 0", "" },
        { "GET", 304, "ETag: \"v1\"\nCache-Control: max-age=60", "" },
        { "GET", 200, "Connection: keep-alive, X-Hop\nKeep-Alive: timeout=5\nX-Hop: secret\nX-Kept: yes\nProxy-Authenticate: Basic\nContent-Length: 2", "ok" },
        { "GET", 200, "Date: Thu, 03 Dec 2026 09:00:00 GMT\nX-A: 1\nSet-Cookie: a=1\nConnection: X-Drop\nX-Drop: gone\nx-a: 2\nset-cookie: b=2\nContent-Length: 2", "ok" },
        { "GET", 200, "content-type: text/plain\nX-First: 1\nContent-Disposition: attachment\nx-frame-options: DENY\nX-Latin: caf\u00e9 \u00ff\ncontent-length: 2\nX-Last: 2", "ok" },
        { "GET", 200, "X-Ctl: a\u0001b\nX-Fine: yes\nX-Ctl: c\nX-Del: a\u007fb\nX-Tab: a\tb\nX-Empty:\nContent-Length: 2", "ok" },
        { "GET", 200, "X-Only-Bad: a\u001bb\nContent-Length: 2", "ok" },
        { "GET", 503, "Retry-After: Friday, 04-Dec-26 07:28:00 GMT\nContent-Length: 2", "no" },
        { "GET", 429, "Retry-After: 120\nRetry-After: 7\nContent-Length: 2", "no" },
        { "GET", 404, "Content-Type: application/json\nContent-Length: 13", "{\"error\":404}" },
        { "GET", 500, "Content-Length: 4", "boom" },
        { "GET", 299, "Content-Length: 0", "" },
        { "GET", 200, "Content-Length: 2\nContent-Length: 2", "ok" },
        { "GET", 200, "Content-Length: two", "ok" },
        { "OPTIONS", 200, "Allow: GET, HEAD\nContent-Language: fr\nExpires: 0\nLast-Modified: Tue, 01 Dec 2026 10:00:00 GMT\nServer: upstream/1.0\nContent-Length: 2", "ok" },
    };

    [Theory]
    [MemberData(nameof(Answers))]
    public Task TheCoresAnswer_IsKestrels(string method, int status, string fields, string body) =>
        CompareAsync(method, status, () => Lean(fields), body);

    [Theory]
    [MemberData(nameof(Answers))]
    public Task TheCoresAnswer_IsKestrels_FromSocketsHttpHandlersCollections(string method, int status, string fields, string body) =>
        CompareAsync(method, status, () => Message(fields), body);

    [Theory]
    [MemberData(nameof(Answers))]
    public Task TheCoresAnswer_IsKestrels_FromTheInstancesBytes(string method, int status, string fields, string body)
    {
        // The forwarding core's answers: the lean client's parser writes the fields into the core's head as it reads them.
        if (Parsed(method, status, fields) is null)
        {
            Assert.Contains("Content-Length: two", fields, StringComparison.Ordinal); // the one answer the parser refuses
            return Task.CompletedTask;
        }

        return CompareAsync(method, status, () => Lean(fields), body, () => Parsed(method, status, fields)!);
    }

    // Kestrel writes the answer's fields through ResponseHeaders.Copy; the core, the same way (or its head comes made: coreHead).
    private async Task CompareAsync(string method, int status, Func<HttpResponseMessage> answer, string body, Func<AnswerHead>? coreHead = null)
    {
        var index = _kestrel.Add(new Case(method, status, answer(), body));
        var kestrel = await RawClient.SendAsync(_kestrel.Port, Encoding.ASCII.GetBytes($"{method} /{index} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
        var core = Core(method, body, coreHead?.Invoke() ?? Copied(status, answer()));

        Assert.NotEqual(0, kestrel.Status);
        Assert.Equal(StatusLine(kestrel.Head), StatusLine(core.Head));
        Assert.Equal(Fields(kestrel.Head), Fields(core.Head));
        Assert.Equal(kestrel.Body, core.Body);
    }

    [Theory]
    [InlineData("GET", 502, "bad-gateway", "Bad gateway", "The instance of 'orders' answered badly: caf\u00e9 \"quoted\" <tag> & \u2014.")]
    [InlineData("HEAD", 504, "deadline-exceeded", "Deadline exceeded", "No answer within 2s.")]
    [InlineData("DELETE", 503, "no-instance", "No instance", "")]
    [InlineData("OPTIONS", 413, "body-too-large", "Body too large", "Over 10 MiB.")]
    public async Task TheCoresProblem_IsKestrels(string method, int status, string code, string title, string detail)
    {
        var index = _kestrel.Add(new Case(method, status, new HttpResponseMessage(), "", (code, title, detail)));
        var kestrel = await RawClient.SendAsync(_kestrel.Port, Encoding.ASCII.GetBytes($"{method} /{index} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
        var head = new AnswerHead();
        var output = new ArrayBufferWriter<byte>();
        head.WriteProblem(output, method, keepAlive: false, Date, status, code, title, detail);
        var core = RawClient.Parse(Encoding.Latin1.GetString(output.WrittenSpan), timedOut: false);

        Assert.Equal(status, kestrel.Status);
        Assert.Equal(StatusLine(kestrel.Head), StatusLine(core.Head));
        Assert.Equal(Fields(kestrel.Head), Fields(core.Head));
        Assert.Equal(kestrel.Body, core.Body);
        Assert.True(head.Closes);
    }

    [Fact]
    public void AContentLengthOnA204_IsKestrelsError()
    {
        var head = new AnswerHead();
        head.Reset(204);
        head.Set("Content-Length", "5");

        Assert.Throws<InvalidOperationException>(() => head.Write(new ArrayBufferWriter<byte>(), "GET", true, true, Date));
    }

    [Fact]
    public void TheHead_IsResetForTheNextAnswer()
    {
        var head = new AnswerHead();
        head.Reset(200);
        head.Set("Content-Length", "5");
        head.Set("Date", Date);
        head.Reset(200);
        var output = new ArrayBufferWriter<byte>();

        Assert.Equal(AnswerFraming.Chunked, head.Write(output, "GET", true, false, "now"));
        Assert.Equal("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: now\r\n\r\n", Encoding.Latin1.GetString(output.WrittenSpan));
    }

    // The fields as the lean client keeps them (names as HttpHeaders spells the ones it knows, content or not).
    private static LeanResponse Lean(string fields)
    {
        var lean = new LeanResponse();
        foreach (var line in fields.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var (name, content, known) = ResponseFieldNames.Of(Encoding.ASCII.GetBytes(line[..colon]));
            lean.Add(name, line[(colon + 1)..].Trim(' ', '\t'), content, known);
        }

        return lean;
    }

    // The head the lean client's parser writes for the forwarding core; null when it refuses the answer.
    private static AnswerHead? Parsed(string method, int status, string fields)
    {
        var bytes = Encoding.Latin1.GetBytes($"HTTP/1.1 {status} X\r\n{fields.Replace("\n", "\r\n", StringComparison.Ordinal)}\r\n\r\n");
        var head = new AnswerHead();
        head.Reset(999); // the parser starts the head over with the answer's status
        using var lean = new LeanResponse(head);
        if (ResponseHeadParser.Parse(bytes, method == "HEAD", lean, out var parsed) is not null)
        {
            return null;
        }

        Assert.Equal(status, head.Status);
        Assert.Equal(status, parsed.Status);
        return head;
    }

    // The same fields in HttpHeaders' collections, as SocketsHttpHandler fills them (a content header in the content's).
    private static HttpResponseMessage Message(string fields)
    {
        var message = new HttpResponseMessage { Content = new NoContent() };
        foreach (var line in fields.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var (name, value) = (line[..colon], line[(colon + 1)..].Trim(' ', '\t'));
            if (!message.Headers.TryAddWithoutValidation(name, value))
            {
                message.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return message;
    }

    private static AnswerHead Copied(int status, HttpResponseMessage answer)
    {
        var head = new AnswerHead();
        head.Reset(status);
        var target = new CoreAnswer(head);
        ResponseHeaders.Copy(answer, ref target);
        return head;
    }

    private static RawAnswer Core(string method, string body, AnswerHead head)
    {
        var output = new ArrayBufferWriter<byte>();
        var framing = head.Write(output, method, keepAlive: false, ended: body.Length == 0, Date);
        var text = Encoding.Latin1.GetString(output.WrittenSpan) + framing switch
        {
            AnswerFraming.Chunked => $"{body.Length:x}\r\n{body}\r\n0\r\n\r\n",
            AnswerFraming.Length => body,
            _ => "",
        };
        return RawClient.Parse(text, timedOut: false);
    }

    private static string StatusLine(string head) => head.Split("\r\n")[0];

    // Names without case, a name's values in order; Date only as present (its value is the second's).
    private static string Fields(string head) => string.Join("\n", head.Split("\r\n").Skip(1)
        .Select(l => (Name: l[..l.IndexOf(':', StringComparison.Ordinal)].ToLowerInvariant(), Value: l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()))
        .Select(f => f.Name == "date" && f.Value != "Thu, 03 Dec 2026 09:00:00 GMT" ? "date: (now)" : $"{f.Name}: {f.Value}")
        .Select((f, i) => (f, i))
        .OrderBy(p => p.f[..p.f.IndexOf(':', StringComparison.Ordinal)], StringComparer.Ordinal).ThenBy(p => p.i)
        .Select(p => p.f));

    internal sealed record Case(string Method, int Status, HttpResponseMessage Answer, string Body, (string Code, string Title, string Detail)? Problem = null);

    private sealed class NoContent : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => Task.CompletedTask;

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>Kestrel set up as the agent's listeners; answer N is written as the forwarder writes an instance's answer.</summary>
    public sealed class AnswerServer : IAsyncLifetime
    {
        private readonly List<Case> _cases = [];
        private AgentKestrel? _kestrel;

        public int Port => _kestrel!.Port;

        internal int Add(Case answer)
        {
            lock (_cases)
            {
                _cases.Add(answer);
                return _cases.Count - 1;
            }
        }

        public async Task InitializeAsync() => _kestrel = await AgentKestrel.StartAsync(async context =>
        {
            Case answer;
            lock (_cases)
            {
                answer = _cases[int.Parse(context.Request.Path.Value![1..], System.Globalization.CultureInfo.InvariantCulture)];
            }

            if (answer.Problem is var (code, title, detail))
            {
                await Sidecar.Platform.Problems.WriteAsync(context, answer.Status, code, title, detail);
                return;
            }

            context.Response.StatusCode = answer.Status;
            ResponseHeaders.Copy(answer.Answer, context.Response.Headers);
            if (answer.Body.Length > 0)
            {
                await context.Response.Body.WriteAsync(Encoding.Latin1.GetBytes(answer.Body));
            }
        });

        public async Task DisposeAsync()
        {
            if (_kestrel is not null)
            {
                await _kestrel.DisposeAsync();
            }
        }
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using Sidecar.Forwarding;
using Sidecar.Forwarding.Http1;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding.Http1;

/// <summary>
/// The lean client against hand-written instances on loopback (docs/performance.md#the-lean-http11-upstream-client):
/// which connection each request takes, what is never reused, and the errors the retry rules read.
/// </summary>
public sealed class LeanHttp1HandlerTests
{
    private static readonly byte[] Ok = KeepAliveUpstream.Text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");

    [Fact]
    public async Task AConnection_IsReused_AfterItsAnswerWasReadToTheEnd()
    {
        await using var upstream = new KeepAliveUpstream((_, _) => new Reply(Ok));
        using var client = Client();

        Assert.Equal("ok", await GetStringAsync(client, upstream.Url));
        Assert.Equal("ok", await GetStringAsync(client, upstream.Url));
        Assert.Equal("ok", await GetStringAsync(client, upstream.Url));

        Assert.Equal(1, upstream.Connections);
        Assert.Equal([1, 1, 1], upstream.Requests.Select(r => r.Connection));
        Assert.StartsWith($"GET /x HTTP/1.1\r\nHost: 127.0.0.1:{upstream.Url.Port}\r\n", upstream.Requests[0].Head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnInstanceAddressUnusedForTheIdleTimeout_IsDropped_AndANewCallConnectsAgain()
    {
        await using var upstream = new KeepAliveUpstream((_, _) => new Reply(Ok));
        using var handler = new LeanHttp1Handler(new SocketsHttpHandler { UseProxy = false }, TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(50));
        using var client = new HttpMessageInvoker(handler, disposeHandler: false);

        Assert.Equal("ok", await GetStringAsync(client, upstream.Url));
        Assert.Equal(1, handler.EndpointCount);
        handler.Sweep();

        // Pods come and go: an address nobody called for the idle time-out must not stay in the handler for ever.
        await Eventually.TrueAsync(
            () =>
            {
                handler.Sweep();
                return handler.EndpointCount == 0;
            },
            "the unused endpoint was dropped");
        Assert.Equal("ok", await GetStringAsync(client, upstream.Url));
        Assert.Equal(2, upstream.Connections);
    }

    [Theory]
    [InlineData("the client disposed")]
    [InlineData("the idle time-out")]
    public async Task AnIdleConnection_ClosedByTheAgent_EndsWithAnOrderlyClose_NotAReset(string how)
    {
        // An instance's server sees its idle keep-alive connection end as a client's close (end of stream), not as
        // a reset, which servers such as Python's http.server report with a traceback in the app's log.
        using var listener = Listen(out var url);
        var handler = new LeanHttp1Handler(new SocketsHttpHandler { UseProxy = false }, TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(how == "the idle time-out" ? 50 : 60_000));
        using var client = new HttpMessageInvoker(handler, disposeHandler: true);
        var call = GetStringAsync(client, url);
        using var accepted = await listener.AcceptAsync();
        await ReadHeadAsync(accepted);
        await accepted.SendAsync(Ok, SocketFlags.None);
        Assert.Equal("ok", await call); // its connection is idle now, its read-ahead pending

        if (how == "the idle time-out")
        {
            await Task.Delay(100);
            handler.Sweep();
        }
        else
        {
            client.Dispose();
        }

        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await accepted.ReceiveAsync(new byte[16], SocketFlags.None, wait.Token)); // a reset throws here
    }

    [Fact]
    public async Task AChunkedAnswer_IsDechunked_TrailersDropped_AndTheConnectionReused()
    {
        var chunked = KeepAliveUpstream.Text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n3\r\n!!!\r\n0\r\nX-Trailer: t\r\n\r\n");
        await using var upstream = new KeepAliveUpstream((_, _) => new Reply(chunked));
        using var client = Client();

        Assert.Equal("ok!!!", await GetStringAsync(client, upstream.Url));
        Assert.Equal("ok!!!", await GetStringAsync(client, upstream.Url));

        Assert.Equal(1, upstream.Connections);
    }

    [Fact]
    public async Task AConnectionCloseAnswer_IsNotReused()
    {
        var closing = KeepAliveUpstream.Text("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
        await using var upstream = new KeepAliveUpstream((n, _) => new Reply(n == 1 ? closing : Ok));
        using var client = Client();

        await GetStringAsync(client, upstream.Url);
        await GetStringAsync(client, upstream.Url);

        Assert.Equal([1, 2], upstream.Requests.Select(r => r.Connection));
    }

    [Fact]
    public async Task AHalfReadAnswer_ClosesItsConnection_TheNextRequestTakesANewOne()
    {
        var large = KeepAliveUpstream.Text("HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + new string('a', 200_000));
        await using var upstream = new KeepAliveUpstream((n, _) => new Reply(n == 1 ? large : Ok));
        using var client = Client();

        using (var response = await client.SendAsync(Get(upstream.Url), CancellationToken.None))
        {
            var stream = await response.Content.ReadAsStreamAsync();
            await stream.ReadExactlyAsync(new byte[10]);
        }

        Assert.True(await upstream.ClosedByClient.WaitAsync(TimeSpan.FromSeconds(10)), "the half-read connection was closed");
        Assert.Equal("ok", await GetStringAsync(client, upstream.Url));
        Assert.Equal([1, 2], upstream.Requests.Select(r => r.Connection));
    }

    [Fact]
    public async Task AnAnswerDroppedWithItsBodyAlreadyReceived_KeepsItsConnection()
    {
        // A retried 503 is dropped unread: its small body came with its head, so the connection stays usable.
        var busy = KeepAliveUpstream.Text("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
        await using var upstream = new KeepAliveUpstream((n, _) => new Reply(n == 1 ? busy : Ok));
        using var client = Client();

        using (var response = await client.SendAsync(Get(upstream.Url), CancellationToken.None))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        Assert.Equal("ok", await GetStringAsync(client, upstream.Url));
        Assert.Equal([1, 1], upstream.Requests.Select(r => r.Connection));
        Assert.False(upstream.ClosedByClient.Wait(TimeSpan.FromMilliseconds(200)), "the connection was closed");
    }

    [Fact]
    public async Task AnAnswerDroppedBeforeItsSmallBodyArrived_IsDrained_AndItsConnectionKept()
    {
        // Python's http.server writes a head and its body apart: a retried 502's body may still be on its way.
        using var listener = Listen(out var url);
        using var client = Client();
        var call = client.SendAsync(Get(url), CancellationToken.None);
        using var accepted = await listener.AcceptAsync();
        await ReadHeadAsync(accepted);
        await accepted.SendAsync("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 5\r\n\r\n"u8.ToArray(), SocketFlags.None);
        using (var response = await call)
        {
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        }

        await Task.Delay(50);
        await accepted.SendAsync("wait!"u8.ToArray(), SocketFlags.None); // after the answer was dropped
        await Task.Delay(300); // the drain reads it and gives the connection back

        // The next request comes on the same connection: not reset, not replaced by a second one.
        var next = GetStringAsync(client, url);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ReadHeadAsync(accepted, wait.Token);
        await accepted.SendAsync(Ok, SocketFlags.None);
        Assert.Equal("ok", await next);
    }

    [Fact]
    public async Task OnAKeptConnection_TheAnswerIsTakenInTheCallersAwait_WithNoFrameOfTheClients()
    {
        await using var upstream = new KeepAliveUpstream((_, _) => new Reply(Ok));
        using var handler = new LeanHttp1Handler(new SocketsHttpHandler { UseProxy = false }, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1));
        using (var first = Get(upstream.Url))
        using (var response = await await handler.Exchange(first, CancellationToken.None))
        {
            Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        }

        // The second request goes out on the kept connection; its exchange is that connection's read, and once the read
        // ended the answer is there, with nothing left to await.
        using var second = Get(upstream.Url);
        var answer = await handler.Exchange(second, CancellationToken.None);

        Assert.True(answer.IsCompletedSuccessfully, "the answer was taken when its read ended");
        using (var response = await answer)
        {
            Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(1, upstream.Connections);
    }

    [Fact]
    public async Task OnAKeptConnection_AnInterimAnswer_AndAHeadInPieces_AreReadToTheFinalAnswer()
    {
        using var listener = Listen(out var url);
        using var client = Client();
        var call = GetStringAsync(client, url);
        using var accepted = await listener.AcceptAsync();
        await ReadHeadAsync(accepted);
        await accepted.SendAsync(Ok, SocketFlags.None);
        Assert.Equal("ok", await call);

        // The kept connection's next answer: an interim answer first, then the final one's head in two writes.
        call = GetStringAsync(client, url);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ReadHeadAsync(accepted, wait.Token);
        await accepted.SendAsync("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Le"u8.ToArray(), SocketFlags.None);
        await Task.Delay(50);
        await accepted.SendAsync("ngth: 4\r\n\r\nlate"u8.ToArray(), SocketFlags.None);
        Assert.Equal("late", await call);

        // Its head alone in the first write, then its body: the connection is kept for the next one.
        call = GetStringAsync(client, url);
        await ReadHeadAsync(accepted, wait.Token);
        await accepted.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"u8.ToArray(), SocketFlags.None);
        await Task.Delay(50);
        await accepted.SendAsync("body"u8.ToArray(), SocketFlags.None);
        Assert.Equal("body", await call);
    }

    [Fact]
    public async Task AForwardedCallsAnswer_IsTakenAgainOnceDisposed_WithEachAnswersOwnStatusFieldsAndBody()
    {
        string[] answers =
        [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst",
            "HTTP/1.1 204 No Content\r\n\r\n",
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthird",
        ];
        await using var upstream = new KeepAliveUpstream((n, _) => new Reply(KeepAliveUpstream.Text(answers[n - 1])));
        using var handler = new LeanHttp1Handler(new SocketsHttpHandler { UseProxy = false }, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1));
        var origin = new Http1Origin(upstream.Url.GetLeftPart(UriPartial.Authority));
        using var request = new OriginFormRequest(HttpMethod.Get) { Version = HttpVersion.Version11, Answer = new AnswerHead() };

        // As the forwarding core calls: one request kept for the connection's calls, each answer disposed before the next.
        var seen = new List<string>();
        var taken = new List<HttpResponseMessage>();
        foreach (var _ in answers)
        {
            request.Aim(origin, "/x");
            request.Answer!.Reset(200);
            var response = await await handler.Exchange(request, CancellationToken.None);
            var body = await new StreamReader(((ResponseContent)response.Content).Body).ReadToEndAsync();
            seen.Add($"{(int)response.StatusCode} {body} {ResponseHeaders.RetryAfter(response)?.Delta?.TotalSeconds}");
            taken.Add(response);
            response.Dispose();
        }

        Assert.Equal(["200 first ", "204  ", "503 second 7", "200 third "], seen);
        Assert.Single(taken.Distinct()); // one answer, taken again each time
        Assert.Equal(1, upstream.Connections);

        // An answer still held (not disposed) is never taken again: the next exchange gets its own.
        await using var second = new KeepAliveUpstream((_, _) => new Reply(Ok));
        var secondOrigin = new Http1Origin(second.Url.GetLeftPart(UriPartial.Authority));
        request.Aim(secondOrigin, "/x");
        request.Answer!.Reset(200);
        using var held = await await handler.Exchange(request, CancellationToken.None);
        Assert.Same(taken[0], held);
        Assert.Equal("ok", await new StreamReader(((ResponseContent)held.Content).Body).ReadToEndAsync());
        request.Aim(secondOrigin, "/x");
        request.Answer!.Reset(200);
        using var other = await await handler.Exchange(request, CancellationToken.None);
        Assert.NotSame(held, other);
        Assert.Equal("ok", await new StreamReader(((ResponseContent)other.Content).Body).ReadToEndAsync());
    }

    /// <summary>A hand-driven instance on loopback: its listening socket, and <paramref name="url"/> to call it at.</summary>
    private static Socket Listen(out Uri url)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        url = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndPoint!).Port}/");
        return listener;
    }

    private static async Task ReadHeadAsync(Socket socket, CancellationToken cancellationToken = default)
    {
        var buffer = new byte[4096];
        var read = 0;
        while (buffer.AsSpan(0, read).IndexOf("\r\n\r\n"u8) < 0)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cancellationToken);
            Assert.True(n > 0, "the connection ended");
            read += n;
        }
    }

    [Fact]
    public async Task AConnectionTheInstanceClosedWhileIdle_IsNotUsed_TheRequestGoesOnANewOne()
    {
        // The instance answers, then closes (no Connection: close said): the idle connection is found closed before a byte is written.
        await using var upstream = new KeepAliveUpstream((_, _) => new Reply(Ok, Close: true));
        using var client = Client();

        await GetStringAsync(client, upstream.Url);
        Assert.True(await upstream.ClosedByServer.WaitAsync(TimeSpan.FromSeconds(10)), "the instance closed the connection");
        using var post = new HttpRequestMessage(HttpMethod.Post, new Uri(upstream.Url, "/x")) { Content = new StringContent("pay") };
        using var response = await client.SendAsync(post, CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([1, 2], upstream.Requests.Select(r => r.Connection));
        Assert.Equal("pay", Encoding.ASCII.GetString(upstream.Requests[1].Body));
    }

    [Fact]
    public async Task AConnectionClosedAsTheRequestWentOut_AGetIsSentAgainOnANewOne_APostIsTheRetryRulesCall()
    {
        // The second request on connection 1 is read, then the instance closes without a byte (its keep-alive time-out racing the request).
        await using var upstream = new KeepAliveUpstream((n, r) => new Reply(r.Connection == 1 && n > 1 ? null : Ok));
        using var client = Client();
        await GetStringAsync(client, upstream.Url);

        Assert.Equal("ok", await GetStringAsync(client, upstream.Url));
        Assert.Equal([1, 1, 2], upstream.Requests.Select(r => r.Connection));

        // Connection 2 is idle in the pool now; its next request is closed on too, and a POST is not sent again by the client.
        await using var second = new KeepAliveUpstream((n, _) => new Reply(n > 1 ? null : Ok));
        await GetStringAsync(client, second.Url);
        using var post = new HttpRequestMessage(HttpMethod.Post, new Uri(second.Url, "/x")) { Content = new StringContent("pay") };
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(post, CancellationToken.None));

        Assert.Equal(HttpRequestError.ResponseEnded, error.HttpRequestError);
        Assert.False(ForwardingErrors.NeverLeft(error)); // it was sent: only an idempotent call is retried elsewhere
        Assert.Equal(2, second.Requests.Count);
    }

    [Fact]
    public async Task ARefusedConnect_IsAConnectionError_ThatNeverLeft()
    {
        using var client = Client();
        var dead = new Uri($"http://127.0.0.1:{LoopbackServer.RefusingPort()}");

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Get(dead), CancellationToken.None));

        Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError);
        Assert.True(ForwardingErrors.NeverLeft(error));
        Assert.StartsWith("Connection refused (127.0.0.1:", ForwardingErrors.Describe(error), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n")]
    public async Task ABadlyFramedAnswer_IsAnInvalidResponse_AndItsConnectionClosed(string answer)
    {
        await using var upstream = new KeepAliveUpstream((_, _) => new Reply(KeepAliveUpstream.Text(answer)));
        using var client = Client();

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Get(upstream.Url), CancellationToken.None));

        Assert.Equal(HttpRequestError.InvalidResponse, error.HttpRequestError);
        Assert.False(ForwardingErrors.NeverLeft(error));
        Assert.True(await upstream.ClosedByClient.WaitAsync(TimeSpan.FromSeconds(10)), "the connection was closed");
    }

    [Fact]
    public async Task ABadChunkSize_FailsTheBody_AsAnIOException()
    {
        var answer = KeepAliveUpstream.Text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\nabc\r\n");
        await using var upstream = new KeepAliveUpstream((_, _) => new Reply(answer));
        using var client = Client();
        using var response = await client.SendAsync(Get(upstream.Url), CancellationToken.None);

        var body = await response.Content.ReadAsStreamAsync();

        var error = await Assert.ThrowsAnyAsync<HttpIOException>(() => body.CopyToAsync(Stream.Null));
        Assert.Equal(HttpRequestError.InvalidResponse, error.HttpRequestError);
    }

    [Fact]
    public async Task InterimAnswers_AreSkipped_AnAnswerWithoutLength_IsReadToTheClose()
    {
        var answer = KeepAliveUpstream.Text("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n\r\nuntil the end");
        await using var upstream = new KeepAliveUpstream((_, _) => new Reply(answer, Close: true));
        using var client = Client();

        Assert.Equal("until the end", await GetStringAsync(client, upstream.Url));
    }

    [Fact]
    public async Task ABodyOfUnknownLength_GoesChunked_AKnownOne_WithItsLength()
    {
        await using var upstream = new KeepAliveUpstream((_, _) => new Reply(Ok));
        using var client = Client();
        var payload = Enumerable.Range(0, 40_000).Select(i => (byte)i).ToArray();

        using (var chunked = new HttpRequestMessage(HttpMethod.Post, new Uri(upstream.Url, "/x")) { Content = new StreamContent(new UnseekableStream(payload)) })
        using (var response = await client.SendAsync(chunked, CancellationToken.None))
        {
            await response.Content.ReadAsStringAsync();
        }

        using (var known = new HttpRequestMessage(HttpMethod.Put, new Uri(upstream.Url, "/y")) { Content = new ByteArrayContent(payload) })
        using (var response = await client.SendAsync(known, CancellationToken.None))
        {
            await response.Content.ReadAsStringAsync();
        }

        Assert.Contains("Transfer-Encoding: chunked\r\n", upstream.Requests[0].Head, StringComparison.Ordinal);
        Assert.DoesNotContain("Content-Length", upstream.Requests[0].Head, StringComparison.Ordinal);
        Assert.Equal(payload, upstream.Requests[0].Body);
        Assert.Contains("Content-Length: 40000\r\n", upstream.Requests[1].Head, StringComparison.Ordinal);
        Assert.Equal(payload, upstream.Requests[1].Body);
        Assert.Equal(1, upstream.Connections);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnAnswerBeforeTheBodyWasRead_IsTheOutcome_WhenTheInstanceThenNeitherReadsNorCloses(bool knownLength)
    {
        // An early 413: the instance reads the head only, answers and then holds the connection open without
        // reading. Sending the body first would block on a full socket until the call's deadline.
        await using var upstream = new EarlyAnswerUpstream();
        using var client = Client();
        var endless = new EndlessStream(64 << 20);
        HttpContent content = new StreamContent(endless);
        if (knownLength)
        {
            content.Headers.ContentLength = 64 << 20;
        }

        using var post = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://127.0.0.1:{upstream.Port}/upload")) { Content = content };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        using var response = await client.SendAsync(post, deadline.Token);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("too big", await response.Content.ReadAsStringAsync(deadline.Token));
        Assert.True(endless.Position < 64 << 20, "the body was not all sent");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // its exchange is the kept connection's read, awaited by the caller (LeanExchange)
    public async Task ACancelledExchange_ClosesItsConnection(bool onAKeptConnection)
    {
        var heldRequest = onAKeptConnection ? 2 : 1;
        using var held = new SemaphoreSlim(0);
        await using var upstream = new KeepAliveUpstream((n, _) =>
        {
            if (n == heldRequest)
            {
                held.Wait(TimeSpan.FromSeconds(10)); // answers only once the client gave up
            }

            return new Reply(Ok);
        });
        using var client = Client();
        if (onAKeptConnection)
        {
            Assert.Equal("ok", await GetStringAsync(client, upstream.Url));
        }

        using var cts = new CancellationTokenSource();
        var sending = client.SendAsync(Get(upstream.Url), cts.Token);
        await Eventually.TrueAsync(() => Task.FromResult(upstream.Requests.Count == heldRequest), "the request arrived", TimeSpan.FromSeconds(10));
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending);
        held.Release();
        Assert.Equal("ok", await GetStringAsync(client, upstream.Url));
        Assert.Equal(2, upstream.Connections);
        Assert.Equal(onAKeptConnection ? [1, 1, 2] : [1, 2], upstream.Requests.Select(r => r.Connection));
    }

    [Fact]
    public async Task AnAimedRequest_TakesTheLeanClient_AndAnotherVersion_SocketsHttpHandlerWithItsUri()
    {
        await using var upstream = new KeepAliveUpstream((_, _) => new Reply(Ok));
        using var client = Client();
        var origin = new Http1Origin(upstream.Url.GetLeftPart(UriPartial.Authority));

        using (var lean = new OriginFormRequest(HttpMethod.Get) { Version = HttpVersion.Version11 })
        {
            lean.Aim(origin, "/a/../b?c");
            using var response = await client.SendAsync(lean, CancellationToken.None);
            Assert.Equal("ok", await response.Content.ReadAsStringAsync());
            Assert.Null(lean.RequestUri);

            // A forwarded call's answer keeps its fields as read, not in HttpHeaders' collections.
            var fields = Assert.IsType<LeanResponse>(response).Fields.ToArray();
            Assert.Contains(new ResponseField("Content-Length", "2", Content: true, Known: true), fields);
            Assert.Empty(response.Headers.NonValidated);
            Assert.Empty(response.Content.Headers.NonValidated);
        }

        using (var passedOn = new OriginFormRequest(HttpMethod.Get) { Version = HttpVersion.Version10, VersionPolicy = HttpVersionPolicy.RequestVersionExact })
        {
            passedOn.Aim(origin, "/d?e");
            using var response = await client.SendAsync(passedOn, CancellationToken.None);
            Assert.Equal("ok", await response.Content.ReadAsStringAsync());
            Assert.Equal(new Uri(upstream.Url, "/d?e").AbsoluteUri, passedOn.RequestUri?.AbsoluteUri);
        }

        Assert.StartsWith("GET /a/../b?c HTTP/1.1\r\n", upstream.Requests[0].Head, StringComparison.Ordinal);
        Assert.StartsWith("GET /d?e HTTP/1.0\r\n", upstream.Requests[1].Head, StringComparison.Ordinal);
    }

    private static HttpMessageInvoker Client() =>
        new(new LeanHttp1Handler(new SocketsHttpHandler { UseProxy = false }, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1)), disposeHandler: true);

    private static HttpRequestMessage Get(Uri upstream) =>
        new(HttpMethod.Get, new Uri(upstream, "/x")) { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionOrLower };

    private static async Task<string> GetStringAsync(HttpMessageInvoker client, Uri upstream)
    {
        using var request = Get(upstream);
        using var response = await client.SendAsync(request, CancellationToken.None);
        return await response.Content.ReadAsStringAsync();
    }

    private sealed class UnseekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }

    /// <summary>A body of <paramref name="length"/> zero bytes made as it is read; Position says how far the client got.</summary>
    private sealed class EndlessStream(long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => Interlocked.Read(ref _position);
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = (int)Math.Min(count, length - Position);
            Array.Clear(buffer, offset, read);
            Interlocked.Add(ref _position, read);
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

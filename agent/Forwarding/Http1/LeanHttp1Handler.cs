using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;

namespace Sidecar.Forwarding.Http1;

/// <summary>
/// The forwarder's HTTP/1.1 client for plain <c>http</c> instances (docs/performance.md#the-lean-http11-upstream-client),
/// in front of the <see cref="SocketsHttpHandler"/> that takes everything else: https, other versions,
/// upgrades (the WebSocket handshake). It writes the request head straight into bytes, reads the
/// answer's head with one strict parser (<see cref="ResponseHeadParser"/>) and streams the body off a
/// pooled keep-alive connection (<see cref="Http1Endpoint"/>). Its failures are the exceptions
/// SocketsHttpHandler throws, so the retry rules (<c>ForwardingErrors</c>, <c>RetryDecider</c>) judge both alike.
/// </summary>
internal sealed class LeanHttp1Handler : DelegatingHandler
{
    private readonly ConcurrentDictionary<(string Host, int Port), Http1Endpoint> _endpoints = new();
    private readonly TimeSpan _connectTimeout;
    private readonly TimeSpan _idleTimeout;
    private readonly Timer _sweeper;

    public LeanHttp1Handler(HttpMessageHandler inner, TimeSpan connectTimeout, TimeSpan idleTimeout)
        : base(inner)
    {
        _connectTimeout = connectTimeout;
        _idleTimeout = idleTimeout;

        // Idle connections nobody asks for again are closed within half the idle time-out after it passes.
        var period = TimeSpan.FromTicks(Math.Max(idleTimeout.Ticks / 2, TimeSpan.TicksPerSecond));
        _sweeper = new Timer(static s => ((LeanHttp1Handler)s!).Sweep(), this, period, period);
    }

    /// <summary>
    /// The requests it takes: <c>http</c>, HTTP/1.1 as the forwarder sends its calls (version 1.1, or lower),
    /// no upgrade asked for, not CONNECT. Everything else goes to SocketsHttpHandler unchanged.
    /// </summary>
    public static bool Takes(HttpRequestMessage request) =>
        (request is OriginFormRequest { Origin.IsHttp: true, RequestUri: null } ||
         (request.RequestUri is { IsAbsoluteUri: true } uri && string.Equals(uri.Scheme, Uri.UriSchemeHttp, StringComparison.Ordinal))) &&
        request.Version == HttpVersion.Version11 &&
        request.VersionPolicy != HttpVersionPolicy.RequestVersionOrHigher &&
        request.Method != HttpMethod.Connect &&
        (request is OriginFormRequest { Head: not null } || !request.Headers.NonValidated.Contains("Upgrade")); // a direct head never carries Upgrade (hop-by-hop)

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (Takes(request))
        {
            return ExchangeAsync(request, cancellationToken).AsTask();
        }

        // SocketsHttpHandler needs the absolute URI a request aimed without one (OriginFormRequest) has not made.
        (request as OriginFormRequest)?.MakeAbsolute();
        return base.SendAsync(request, cancellationToken);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _sweeper.Dispose();
            foreach (var endpoint in _endpoints)
            {
                endpoint.Value.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    /// <summary>Closes expired idle connections, and drops the endpoints nobody used for an idle time-out (a call that still holds one gives its connection back to a closed endpoint, which closes it).</summary>
    internal void Sweep()
    {
        foreach (var endpoint in _endpoints)
        {
            if (endpoint.Value.Sweep() && _endpoints.TryRemove(endpoint))
            {
                endpoint.Value.Dispose();
            }
        }
    }

    /// <summary>The instance addresses it keeps connections for (a test reads it).</summary>
    internal int EndpointCount => _endpoints.Count;

    private Http1Endpoint EndpointOf(HttpRequestMessage request)
    {
        // A forwarded call's instance address was parsed once (Http1Origin) and remembers its endpoint (no key hashed
        // per attempt); another request's URI is read here.
        var origin = request.RequestUri is null ? (request as OriginFormRequest)?.Origin : null;
        if (origin?.Endpoint is { } known && ReferenceEquals(known.Owner, this) && !known.IsDisposed)
        {
            return known;
        }

        var uri = request.RequestUri ?? origin!.Authority;
        var key = origin is not null ? (origin.Host, origin.Port) : (uri.IdnHost, uri.Port);
        var endpoint = _endpoints.TryGetValue(key, out var found)
            ? found
            : _endpoints.GetOrAdd(key, static (_, state) => new Http1Endpoint(state.Uri, state.Handler._connectTimeout, state.Handler._idleTimeout) { Owner = state.Handler }, (Uri: uri, Handler: this));
        if (origin is not null)
        {
            origin.Endpoint = endpoint;
        }

        return endpoint;
    }

    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    private async ValueTask<HttpResponseMessage> ExchangeAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        await (await Exchange(request, cancellationToken)).ConfigureAwait(false);

    /// <summary>
    /// A request <see cref="Takes"/> holds for, sent as <see cref="HttpMessageInvoker"/> would send it (its caller awaits
    /// <c>await (await exchange)</c>). Without a body and with a kept connection, the head goes out here and the exchange
    /// is the connection's pending read for the caller to await in its own frame, then <see cref="Answer"/>: no frame of
    /// this client's to resume on every answer (docs/performance.md#the-answers-read-in-the-callers-frame-2026-12-05-thirteenth-session).
    /// Any other way, the whole exchange (<see cref="SendLeanAsync"/>).
    /// </summary>
    internal LeanExchange Exchange(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Content is not null || EndpointOf(request).Rent() is not { } connection)
        {
            return new LeanExchange(SendLeanAsync(request, cancellationToken));
        }

        connection.Received = false;
        ValueTask sent;
        try
        {
            WriteHead(connection, request, out _); // no content: no body, at most a Content-Length of 0 (SendBodyAsync's flush alone)
            sent = connection.FlushAsync(cancellationToken);
        }
#pragma warning disable CA1031 // every failure is the exchange's outcome, as SendLeanAsync's catch makes it
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return new LeanExchange(AfterFailure(ex, connection, request, cancellationToken));
        }

        if (sent.IsCompletedSuccessfully && connection.AwaitAnswer(request, cancellationToken))
        {
            sent.GetAwaiter().GetResult();
            return new LeanExchange(connection);
        }

        return new LeanExchange(ContinueAsync(connection, request, sent, cancellationToken));
    }

    /// <summary>
    /// The answer of an <see cref="Exchange"/> whose first read on <paramref name="connection"/> ended
    /// (<see cref="Http1Connection.AwaitAnswer"/>): taken at once when its head came whole; its head's rest (or the final
    /// answer after an interim one) read in a frame of its own; a failure treated as <see cref="SendLeanAsync"/> treats it.
    /// </summary>
    internal static ValueTask<HttpResponseMessage> Answer(Http1Connection connection)
    {
        var (read, request, cancellationToken, registration) = connection.TakeAnswer();
        var handler = (LeanHttp1Handler)connection.Endpoint.Owner!;
        try
        {
            int count;
            try
            {
                count = connection.ReadAheadDone(read.GetAwaiter().GetResult());
            }
            catch (Exception ex) when (Http1Connection.IsReadAheadFailure(ex, cancellationToken))
            {
                throw Http1Connection.ReadAheadFailure(ex, cancellationToken);
            }
            finally
            {
                registration.Unregister();
            }

            Http1Connection.ThrowIfHeadEnded(count);
            var searched = 0;
            var headLength = connection.FindHead(ref searched);
            if (headLength >= 0 && TakeResponse(connection, request, request.Method == HttpMethod.Head, headLength) is { } response)
            {
                return new ValueTask<HttpResponseMessage>(response);
            }

            // The head split over reads, or an interim answer before the final one.
            return handler.ContinueAsync(connection, request, ValueTask.CompletedTask, cancellationToken);
        }
#pragma warning disable CA1031 // every failure is the exchange's outcome, as SendLeanAsync's catch makes it
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return handler.AfterFailure(ex, connection, request, cancellationToken);
        }
    }

    /// <summary>An <see cref="Exchange"/> whose request went out on <paramref name="connection"/> (or is going: <paramref name="sent"/>), read the long way.</summary>
    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    private async ValueTask<HttpResponseMessage> ContinueAsync(Http1Connection connection, HttpRequestMessage request, ValueTask sent, CancellationToken cancellationToken)
    {
        try
        {
            await sent.ConfigureAwait(false);
            return await ReadResponseAsync(connection, request, request.Method == HttpMethod.Head, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsIdleClose(ex, connection, request, cancellationToken))
        {
            connection.Dispose();
        }
        catch (Exception ex)
        {
            connection.Dispose();
            throw Translate(ex, cancellationToken);
        }

        return await SendLeanAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An <see cref="Exchange"/>'s failure: sent again on another connection when it is the instance's idle close (<see cref="IsIdleClose"/>), else the failure SocketsHttpHandler would report.</summary>
    private ValueTask<HttpResponseMessage> AfterFailure(Exception exception, Http1Connection connection, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var idleClose = IsIdleClose(exception, connection, request, cancellationToken);
        connection.Dispose();
        return idleClose ? SendLeanAsync(request, cancellationToken) : ValueTask.FromException<HttpResponseMessage>(Translate(exception, cancellationToken));
    }

    /// <summary>
    /// The instance closed this idle connection as the request went out (its keep-alive time-out): not a byte of an answer
    /// came. Sent again on another connection, as SocketsHttpHandler does; with a body it is the retry rules' call, not this client's.
    /// </summary>
    private static bool IsIdleClose(Exception exception, Http1Connection connection, HttpRequestMessage request, CancellationToken cancellationToken) =>
        exception is IOException && connection.Reused && !connection.Received && request.Content is null && !cancellationToken.IsCancellationRequested;

    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    private async ValueTask<HttpResponseMessage> SendLeanAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var endpoint = EndpointOf(request);
        var isHead = request.Method == HttpMethod.Head;
        while (true)
        {
            var connection = endpoint.Rent() ?? await endpoint.ConnectAsync(cancellationToken).ConfigureAwait(false);
            connection.Received = false;
            try
            {
                var framing = WriteHead(connection, request, out var length);
                if (framing == RequestFraming.Length && length > connection.Output.Free || framing == RequestFraming.Chunked)
                {
                    // A body that goes out in several writes: the answer is read meanwhile.
                    return await SendWhileReadingAsync(connection, request, framing, length, isHead, cancellationToken).ConfigureAwait(false);
                }

                try
                {
                    await SendBodyAsync(connection, request, framing, length, cancellationToken).ConfigureAwait(false);
                }
                catch (Http1WriteException) when (request.Content is not null && !cancellationToken.IsCancellationRequested)
                {
                    // An instance may answer before it read the whole body (an early 413) and close: that answer is the outcome.
                    connection.KeepAlive = false;
                    if (await TryReadEarlyAnswerAsync(connection, request, isHead, cancellationToken).ConfigureAwait(false) is { } early)
                    {
                        return early;
                    }

                    throw;
                }

                // ReadResponseAsync's loop, and the head's read (Http1Connection.ReadHeadAsync), here rather than awaited: two
                // frames fewer to resume on every answer (docs/performance.md#fewer-frames-on-a-calls-path-2026-12-04-sixth-session).
                var searched = 0;
                while (true)
                {
                    int headLength;
                    while ((headLength = connection.FindHead(ref searched)) < 0)
                    {
                        int read;
                        if (connection.TakeReadAhead(cancellationToken, out var readAhead, out var registration))
                        {
                            try
                            {
                                read = connection.ReadAheadDone(await readAhead.ConfigureAwait(false));
                            }
                            catch (Exception ex) when (Http1Connection.IsReadAheadFailure(ex, cancellationToken))
                            {
                                throw Http1Connection.ReadAheadFailure(ex, cancellationToken);
                            }
                            finally
                            {
                                registration.Unregister();
                            }
                        }
                        else
                        {
                            read = await connection.ReadHeadMoreAsync(cancellationToken).ConfigureAwait(false);
                        }

                        Http1Connection.ThrowIfHeadEnded(read);
                    }

                    if (TakeResponse(connection, request, isHead, headLength) is { } response)
                    {
                        return response;
                    }

                    searched = 0; // an interim answer was skipped: the next head starts where it ended
                }
            }
            catch (IOException ex) when (IsIdleClose(ex, connection, request, cancellationToken))
            {
                connection.Dispose(); // sent again on another connection
            }
            catch (Exception ex)
            {
                connection.Dispose();
                throw Translate(ex, cancellationToken);
            }
        }
    }

    private static async ValueTask<HttpResponseMessage?> TryReadEarlyAnswerAsync(Http1Connection connection, HttpRequestMessage request, bool isHead, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadResponseAsync(connection, request, isHead, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            return null;
        }
    }

    private static RequestFraming WriteHead(Http1Connection connection, HttpRequestMessage request, out long length)
    {
        connection.Output.Count = 0;
        var framing = RequestHeadWriter.Write(request, connection.Endpoint.HostLine, connection.Output, out length, out var close);
        connection.KeepAlive = !close;
        return framing;
    }

    /// <summary>
    /// A body larger than the write buffer goes out while the answer is read: an instance
    /// may answer before it has read the whole body (an early 413) and then neither read on nor close, and its answer
    /// is the call's outcome, not a deadline spent blocked on a full socket. An answer that comes first is streamed
    /// while the body keeps going out (full duplex); its connection is not reused, and closing it stops the body.
    /// </summary>
    private static async Task<HttpResponseMessage> SendWhileReadingAsync(Http1Connection connection, HttpRequestMessage request, RequestFraming framing, long length, bool isHead, CancellationToken cancellationToken)
    {
        var sendSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connection.StartSending(sendSource);
        var sending = SendAndSettleAsync(connection, request, framing, length, sendSource);
        var reading = ReadResponseAsync(connection, request, isHead, cancellationToken).AsTask();
        if (await Task.WhenAny(sending, reading).ConfigureAwait(false) == sending)
        {
            if (sending.Exception?.InnerException is Http1WriteException && !cancellationToken.IsCancellationRequested)
            {
                // The instance stopped taking the body, maybe with an answer sent first (then closed): that answer is the outcome.
                connection.KeepAlive = false;
                try
                {
                    return await reading.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException)
                {
                    await sending.ConfigureAwait(false); // throws the write failure
                }
            }
            else if (sending.IsFaulted || sending.IsCanceled)
            {
                connection.Dispose(); // ends the read
                await IgnoreAsync(reading).ConfigureAwait(false);
                await sending.ConfigureAwait(false);
            }

            return await reading.ConfigureAwait(false);
        }

        if (!reading.IsCompletedSuccessfully)
        {
            connection.Dispose(); // stops the body
            await IgnoreAsync(sending).ConfigureAwait(false);
            return await reading.ConfigureAwait(false);
        }

        // An early answer: the body goes on until it ends or the connection closes; how it ends is nobody's outcome.
        _ = sending.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return reading.Result;
    }

    private static async Task SendAndSettleAsync(Http1Connection connection, HttpRequestMessage request, RequestFraming framing, long length, CancellationTokenSource sendSource)
    {
        try
        {
            await SendBodyAsync(connection, request, framing, length, sendSource.Token).ConfigureAwait(false);
        }
        finally
        {
            connection.StopSending(sendSource);
        }
    }

    private static async Task IgnoreAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // the other half of the exchange failed first: its failure is the one reported
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    // A head with no body after it is only flushed: no frame of its own (docs/performance.md#fewer-instructions-per-call-2026-12-05-eleventh-session).
    private static ValueTask SendBodyAsync(Http1Connection connection, HttpRequestMessage request, RequestFraming framing, long length, CancellationToken cancellationToken) =>
        framing == RequestFraming.None || (framing == RequestFraming.Length && length == 0)
            ? connection.FlushAsync(cancellationToken)
            : SendContentAsync(connection, request, framing, length, cancellationToken);

    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder))]
    private static async ValueTask SendContentAsync(Http1Connection connection, HttpRequestMessage request, RequestFraming framing, long length, CancellationToken cancellationToken)
    {
        var body = new RequestBodyStream(connection, framing, length);
        await request.Content!.CopyToAsync(body, cancellationToken).ConfigureAwait(false);
        await body.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    private static async ValueTask<HttpResponseMessage> ReadResponseAsync(Http1Connection connection, HttpRequestMessage request, bool isHead, CancellationToken cancellationToken)
    {
        while (true)
        {
            var headLength = await connection.ReadHeadAsync(cancellationToken).ConfigureAwait(false);
            if (TakeResponse(connection, request, isHead, headLength) is { } response)
            {
                return response;
            }
        }
    }

    /// <summary>The answer whose head the buffer starts with (<paramref name="headLength"/> bytes); null for an interim one, skipped.</summary>
    private static HttpResponseMessage? TakeResponse(Http1Connection connection, HttpRequestMessage request, bool isHead, int headLength)
    {
        var bytes = connection.Buffered[..headLength];
        var status = ResponseHeadParser.StatusOf(bytes, out _);
        if (ResponseHeadParser.IsInterim(status))
        {
            // 100 Continue, 102, 103: skipped, as SocketsHttpHandler does; the final answer follows.
            connection.Consume(headLength);
            return null;
        }

        // A forwarded call's answer keeps its fields as read (LeanResponse), or writes them into the head of the call's answer
        // (the forwarding core's); another request's gets HttpHeaders' collections.
        var lean = request is OriginFormRequest;
        // The head's lines less its status line and empty line: its fields (obs-fold aside, which the parser refuses).
        var kept = request is OriginFormRequest { Answer: { } answer } origin ? LeanResponse.For(origin, answer) : null;
        var response = kept ?? (lean ? new LeanResponse(bytes.Count("\r\n"u8) - 2) : new HttpResponseMessage());
        response.RequestMessage = request;
        response.Version = HttpVersion.Version11;
        var content = kept?.KeptContent ?? new ResponseContent();
        response.Content = content;

        if (ResponseHeadParser.Parse(bytes, isHead, response, out var head, lean ? connection.Values : null) is { } reason)
        {
            response.Dispose();
            throw new Http1ReadException(HttpRequestError.InvalidResponse, $"The answer is not valid HTTP/1.1: {reason}.");
        }

        connection.Consume(headLength);
        response.StatusCode = (HttpStatusCode)head.Status;
        if (head.Http10)
        {
            response.Version = HttpVersion.Version10;
        }

        // An answer that came before the body was all sent ends the connection's use: the body may still be going out.
        connection.KeepAlive &= head.KeepAlive && !connection.IsSending;
        if (head.Framing == BodyFraming.None || (head.Framing == BodyFraming.Length && head.ContentLength == 0))
        {
            // A 101 nobody asked for is passed up as SocketsHttpHandler does (the forwarder refuses it); its connection is another protocol's now.
            if (head.Status == 101)
            {
                connection.Dispose();
            }
            else
            {
                connection.Release();
            }

            content.Body = Stream.Null;
        }
        else
        {
            content.Body = kept is not null ? kept.BodyStream(connection, head.Framing, head.ContentLength) : new ResponseBodyStream(connection, head.Framing, head.ContentLength);
        }

        return response;
    }

    // The exceptions SocketsHttpHandler throws for the same failures (ForwardingErrors reads them).
    private static Exception Translate(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        OperationCanceledException when cancellationToken.IsCancellationRequested => exception,
        OperationCanceledException { InnerException: TimeoutException } => exception,
        HttpRequestException => exception,
        Http1ReadException read => new HttpRequestException(read.HttpRequestError, "An error occurred while sending the request.", read),
        _ when cancellationToken.IsCancellationRequested => new TaskCanceledException("The operation was canceled.", exception, cancellationToken),
        IOException => new HttpRequestException(HttpRequestError.Unknown, "An error occurred while sending the request.", exception),
        _ => exception,
    };
}

using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Sidecar.Forwarding.Http1;

/// <summary>
/// One keep-alive connection to an instance: its socket (no delay), a read buffer the answer's head
/// and body framing are parsed from, and a write buffer the request head (and a small body) is put
/// together in, sent in one call. Used by one exchange at a time; back in its
/// <see cref="Http1Endpoint"/>'s idle stack only after an answer read to its end.
/// </summary>
internal sealed class Http1Connection : IDisposable
{
    private const int BufferSize = 8192;

    private readonly Socket _socket;
    private byte[] _read = new byte[BufferSize];
    private int _start;
    private int _end;
    private bool _disposed;
    private ResponseValues? _values;

    // The read an idle connection keeps pending (SocketsHttpHandler's read-ahead): its completion while idle
    // says the instance closed it (or sent stray bytes), with no system call; the next answer lands in it.
    private ValueTask<int> _readAhead;
    private bool _readAheadPending;

    // An exchange whose caller awaits the read-ahead in its own frame (LeanExchange): its request and token, and the
    // token's registration that ends the read (AwaitAnswer, then TakeAnswer).
    private HttpRequestMessage? _awaiting;
    private CancellationToken _awaitingToken;
    private CancellationTokenRegistration _awaitingRegistration;

    // A body still going out while the answer is read (LeanHttp1Handler.SendWhileReadingAsync): closing the connection stops it.
    private CancellationTokenSource? _sending;

    public Http1Connection(Socket socket, Http1Endpoint endpoint)
    {
        _socket = socket;
        Endpoint = endpoint;
    }

    public Http1Endpoint Endpoint { get; }

    /// <summary>When it went back to the idle stack (<see cref="Environment.TickCount64"/>).</summary>
    public long IdleSince { get; set; }

    /// <summary>It served an exchange before this one: an answer that ends before its first byte may be the instance's idle close.</summary>
    public bool Reused { get; set; }

    /// <summary>Neither side said <c>Connection: close</c> and the framing lets the next answer be found.</summary>
    public bool KeepAlive { get; set; }

    /// <summary>A byte of the answer arrived (reset for each exchange): before it, a failure on a reused connection may be its idle close.</summary>
    public bool Received { get; set; }

    /// <summary>The bytes received and not consumed yet.</summary>
    public ReadOnlySpan<byte> Buffered => _read.AsSpan(_start, _end - _start);

    /// <summary>The value strings of the previous forwarded answer on this connection, reused when the next one's bytes are the same.</summary>
    public ResponseValues Values => _values ??= new ResponseValues();

    /// <summary>The request head and body bytes not sent yet (the head writer appends here).</summary>
    public HeadBuffer Output { get; } = new(BufferSize);

    /// <summary>
    /// An idle connection the instance closed (or sent something on) cannot take a request: its pending
    /// read completed while idle (end of stream, a reset or stray bytes). No system call.
    /// </summary>
    public bool IsUsable() => !_disposed && !(_readAheadPending && _readAhead.IsCompleted);

    /// <summary>The bytes received and not consumed yet, for a body copied straight from the buffer.</summary>
    public ReadOnlyMemory<byte> BufferedMemory => _read.AsMemory(_start, _end - _start);

    /// <summary>Reads more into the buffer; 0 at end of stream.</summary>
    public ValueTask<int> ReadMoreAsync(CancellationToken cancellationToken) => FillAsync(BufferSize, cancellationToken);

    /// <summary>Body bytes: copied behind the head when they fit, else what is buffered goes first and these are sent as they are.</summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (Output.Free >= bytes.Length)
        {
            Output.Append(bytes.Span);
            return ValueTask.CompletedTask;
        }

        return WriteThroughAsync(bytes, cancellationToken);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (Output.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        var count = Output.Count;
        Output.Count = 0;
        return SendAsync(Output.Array.AsMemory(0, count), cancellationToken);
    }

    /// <summary>
    /// Reads until the buffer holds a whole head (up to its empty line) and returns its length; the head
    /// starts at <see cref="Buffered"/>. Throws <see cref="Http1ReadException"/> at end of stream or past the limit.
    /// (<see cref="LeanHttp1Handler"/>'s plain exchange runs the same loop itself: a frame fewer to resume on every answer.)
    /// </summary>
    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    public async ValueTask<int> ReadHeadAsync(CancellationToken cancellationToken)
    {
        var searched = 0;
        int length;
        while ((length = FindHead(ref searched)) < 0)
        {
            int read;
            if (TakeReadAhead(cancellationToken, out var readAhead, out var registration))
            {
                try
                {
                    read = ReadAheadDone(await readAhead.ConfigureAwait(false));
                }
                catch (Exception ex) when (IsReadAheadFailure(ex, cancellationToken))
                {
                    throw ReadAheadFailure(ex, cancellationToken);
                }
                finally
                {
                    registration.Unregister();
                }
            }
            else
            {
                read = await ReadHeadMoreAsync(cancellationToken).ConfigureAwait(false);
            }

            ThrowIfHeadEnded(read);
        }

        return length;
    }

    /// <summary>The length of the whole head <see cref="Buffered"/> starts with, or -1 when more must be read (<paramref name="searched"/>: how far the last look went, 0 at first). Throws past the limit.</summary>
    public int FindHead(ref int searched)
    {
        var from = Math.Max(0, searched - 3);
        var at = _read.AsSpan(_start + from, _end - _start - from).IndexOf("\r\n\r\n"u8);
        if (at >= 0)
        {
            return from + at + 4;
        }

        searched = _end - _start;
        if (searched >= ResponseHeadParser.MaxHeadBytes)
        {
            throw new Http1ReadException(HttpRequestError.ConfigurationLimitExceeded, $"the answer's head is longer than {ResponseHeadParser.MaxHeadBytes} bytes");
        }

        return -1;
    }

    /// <summary>
    /// A head's next read when it is a reused connection's read-ahead: that read, for the caller to await itself (not through
    /// <see cref="ReadHeadMoreAsync"/>: a frame fewer to resume on every answer), then <see cref="ReadAheadDone"/>; its
    /// failure is <see cref="ReadAheadFailure"/>'s. It was started without a token: the exchange's token closes the socket
    /// meanwhile to end it, as SocketsHttpHandler does (the registration, to unregister once it ends).
    /// </summary>
    public bool TakeReadAhead(CancellationToken cancellationToken, out ValueTask<int> read, out CancellationTokenRegistration registration)
    {
        if (!_readAheadPending)
        {
            (read, registration) = (default, default);
            return false;
        }

        // An exchange's first read is always its head's, so only a head's read finds the read-ahead pending.
        _readAheadPending = false;
        registration = cancellationToken.UnsafeRegister(static s => ((Socket)s!).Dispose(), _socket);
        read = _readAhead;
        return true;
    }

    /// <summary>
    /// <see cref="TakeReadAhead"/> for an exchange its caller awaits in its own frame (<see cref="LeanExchange"/>): the
    /// read, <see cref="AnswerRead"/>, is kept here with the exchange's request and token until <see cref="TakeAnswer"/>.
    /// </summary>
    public bool AwaitAnswer(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!TakeReadAhead(cancellationToken, out _, out var registration))
        {
            return false;
        }

        (_awaiting, _awaitingToken, _awaitingRegistration) = (request, cancellationToken, registration);
        return true;
    }

    /// <summary>The read an <see cref="AwaitAnswer"/> exchange waits for (the read-ahead).</summary>
    public ValueTask<int> AnswerRead => _readAhead;

    /// <summary>The <see cref="AwaitAnswer"/> exchange's read, request, token and registration, once the read ended; the connection keeps none of them.</summary>
    public (ValueTask<int> Read, HttpRequestMessage Request, CancellationToken Token, CancellationTokenRegistration Registration) TakeAnswer()
    {
        var taken = (_readAhead, _awaiting!, _awaitingToken, _awaitingRegistration);
        (_readAhead, _awaiting, _awaitingToken, _awaitingRegistration) = (default, null, default, default);
        return taken;
    }

    /// <summary>The read-ahead's bytes, taken into the buffer; returns their count.</summary>
    public int ReadAheadDone(int read)
    {
        _end += read;
        Received |= read > 0;
        return read;
    }

    /// <summary>A failure of the read-ahead that <see cref="ReadAheadFailure"/> reports otherwise than as it came.</summary>
    public static bool IsReadAheadFailure(Exception exception, CancellationToken cancellationToken) =>
        exception is SocketException || (exception is ObjectDisposedException && cancellationToken.IsCancellationRequested);

    /// <summary>The read-ahead's failure as a read of the exchange reports it: the token's cancellation, or the connection's failure.</summary>
    public static Exception ReadAheadFailure(Exception exception, CancellationToken cancellationToken) => cancellationToken.IsCancellationRequested
        ? new OperationCanceledException("The operation was canceled.", exception, cancellationToken)
        : new IOException($"Unable to read data from the transport connection: {exception.Message}.", exception);

    /// <summary>A head's next read when no read-ahead is pending; 0 at end of stream.</summary>
    public ValueTask<int> ReadHeadMoreAsync(CancellationToken cancellationToken) => FillAsync(ResponseHeadParser.MaxHeadBytes + 4, cancellationToken);

    /// <summary>Throws when a head's read found the end of the stream.</summary>
    public static void ThrowIfHeadEnded(int read)
    {
        if (read == 0)
        {
            throw new Http1ReadException(HttpRequestError.ResponseEnded, "The response ended prematurely.");
        }
    }

    /// <summary>Reads until the buffer holds a line (up to CRLF, at most <paramref name="limit"/> bytes); returns its length without the CRLF.</summary>
    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    public async ValueTask<int> ReadLineAsync(int limit, CancellationToken cancellationToken)
    {
        var searched = 0;
        while (true)
        {
            var from = Math.Max(0, searched - 1);
            var at = _read.AsSpan(_start + from, _end - _start - from).IndexOf("\r\n"u8);
            if (at >= 0)
            {
                return from + at;
            }

            searched = _end - _start;
            if (searched > limit)
            {
                throw new Http1ReadException(HttpRequestError.InvalidResponse, "a chunk line or trailer is too long");
            }

            if (await FillAsync(limit + 2, cancellationToken).ConfigureAwait(false) == 0)
            {
                throw new Http1ReadException(HttpRequestError.ResponseEnded, "The response ended prematurely.");
            }
        }
    }

    /// <summary>Drops <paramref name="count"/> bytes from the front of <see cref="Buffered"/>.</summary>
    public void Consume(int count)
    {
        _start += count;
        if (_start == _end)
        {
            _start = _end = 0;
        }
    }

    /// <summary>Body bytes: what is buffered first, then the socket (straight into a large destination). 0 at end of stream.</summary>
    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (_end == _start)
        {
            if (destination.Length >= BufferSize)
            {
                return await ReceiveAsync(destination, cancellationToken).ConfigureAwait(false);
            }

            if (await FillAsync(BufferSize, cancellationToken).ConfigureAwait(false) == 0)
            {
                return 0;
            }
        }

        var count = Math.Min(destination.Length, _end - _start);
        _read.AsSpan(_start, count).CopyTo(destination.Span);
        Consume(count);
        return count;
    }

    /// <summary>A body is going out while the answer is read: an answer that comes first leaves the connection unusable for another exchange.</summary>
    public bool IsSending => Volatile.Read(ref _sending) is not null;

    public void StartSending(CancellationTokenSource source) => Volatile.Write(ref _sending, source);

    /// <summary>The body is out (or failed): its source, linked to the call's token, is let go.</summary>
    public void StopSending(CancellationTokenSource source)
    {
        Interlocked.CompareExchange(ref _sending, null, source);
        source.Dispose();
    }

    /// <summary>The exchange is over: back to the idle stack when it can carry another, closed otherwise.</summary>
    public void Release()
    {
        if (KeepAlive && _end == _start && !_disposed && StartReadAhead())
        {
            Reused = true;
            Endpoint.Return(this);
        }
        else
        {
            Dispose();
        }
    }

    private bool StartReadAhead()
    {
        _start = _end = 0;
        try
        {
#pragma warning disable CA2012 // kept to be awaited once by the next exchange (or dropped with the socket), as SocketsHttpHandler's read-ahead
            _readAhead = _socket.ReceiveAsync(_read.AsMemory(), SocketFlags.None, CancellationToken.None);
#pragma warning restore CA2012
            _readAheadPending = true;
            return true;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_readAheadPending)
        {
            // Idle (swept, or its client disposed): an orderly close. Disposed with its read-ahead pending, the socket
            // would be reset (.NET closes abortively a socket whose operations it cancels, unless it was shut down),
            // which an instance's server may log as an error (Python's http.server prints a traceback).
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // already reset or closed by the instance
            }
        }

        if (Interlocked.Exchange(ref _sending, null) is { } sending)
        {
            try
            {
                sending.Cancel(); // the body of an answer that came early: nobody waits for the rest
            }
            catch (ObjectDisposedException)
            {
                // the body ended meanwhile
            }
        }

        _socket.Dispose();
    }

    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder))]
    private async ValueTask WriteThroughAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        await SendAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    // The usual send, every byte taken before the socket's call returns, needs no frame (docs/performance.md#fewer-instructions-per-call-2026-12-05-eleventh-session);
    // a send that waits, or takes part of the bytes, or fails, goes on in one.
    private ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (bytes.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        ValueTask<int> sending;
        try
        {
            sending = _socket.SendAsync(bytes, SocketFlags.None, cancellationToken);
        }
        catch (SocketException ex)
        {
            throw WriteFailure(ex);
        }

        if (!sending.IsCompletedSuccessfully)
        {
            return SendRestAsync(sending, bytes, cancellationToken);
        }

        var sent = sending.Result;
        return sent == bytes.Length ? ValueTask.CompletedTask : SendRestAsync(new ValueTask<int>(sent), bytes, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder))]
    private async ValueTask SendRestAsync(ValueTask<int> sending, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        try
        {
            bytes = bytes[await sending.ConfigureAwait(false)..];
            while (!bytes.IsEmpty)
            {
                var sent = await _socket.SendAsync(bytes, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                bytes = bytes[sent..];
            }
        }
        catch (SocketException ex)
        {
            throw WriteFailure(ex);
        }
    }

    private static Http1WriteException WriteFailure(SocketException ex) => new($"Unable to write data to the transport connection: {ex.Message}.", ex);

    // Reads more into the buffer (moved to its front first, grown up to limit); the count read, 0 at end of stream.
    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    private async ValueTask<int> FillAsync(int limit, CancellationToken cancellationToken)
    {
        if (_end == _read.Length)
        {
            if (_start > 0)
            {
                _read.AsSpan(_start, _end - _start).CopyTo(_read);
                _end -= _start;
                _start = 0;
            }
            else if (_read.Length < limit)
            {
                Array.Resize(ref _read, Math.Min(_read.Length * 2, limit));
            }
            else
            {
                throw new Http1ReadException(HttpRequestError.InvalidResponse, "a line of the answer is too long");
            }
        }

        // Only a head's read finds the read-ahead pending (TakeReadAhead gives it to the head's read): a body is read after its head.
        System.Diagnostics.Debug.Assert(!_readAheadPending, "the read-ahead is the exchange's first read, ReadHeadAsync's");
        var read = await ReceiveAsync(_read.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        _end += read;
        Received |= read > 0;
        return read;
    }

    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    private async ValueTask<int> ReceiveAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        try
        {
            return await _socket.ReceiveAsync(destination, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new IOException($"Unable to read data from the transport connection: {ex.Message}.", ex);
        }
    }
}

/// <summary>An answer that cannot be read (ended early, too long, not HTTP/1.1): the error SocketsHttpHandler would report.</summary>
internal sealed class Http1ReadException(HttpRequestError error, string message) : HttpIOException(error, message);

/// <summary>The socket refused the request's bytes (the instance closed or reset the connection): not the caller's body failing.</summary>
internal sealed class Http1WriteException(string message, Exception inner) : IOException(message, inner);

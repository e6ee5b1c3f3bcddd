using System.Runtime.CompilerServices;
using Sidecar.Platform;

namespace Sidecar.Forwarding.Http1;

/// <summary>
/// An answer's body read off its connection: <c>Content-Length</c> bytes, de-chunked (trailers read
/// and dropped), or up to the instance's close. At its end the connection goes back to its idle stack
/// (<see cref="Http1Connection.Release"/>); disposed before the end, or failing, it closes the connection:
/// a half-read answer is never left for the next request to find.
/// </summary>
internal sealed class ResponseBodyStream : AsyncReadOnlyStream
{
    private const int LineLimit = 8 * 1024;

    // An answer dropped unread is drained (its connection kept) when this little of it is left, within DrainTime.
    private const int MaxDrain = 64 * 1024;
    private static readonly TimeSpan DrainTime = TimeSpan.FromSeconds(2);

    private BodyFraming _framing;
    private Http1Connection? _connection;
    private long _remaining;
    private ChunkState _chunk;

    public ResponseBodyStream(Http1Connection connection, BodyFraming framing, long length)
    {
        _connection = connection;
        _framing = framing;
        _remaining = length;
    }

    /// <summary>The stream of another answer's body (a kept answer's, <see cref="LeanResponse.For"/>), once this one was disposed.</summary>
    internal void Reset(Http1Connection connection, BodyFraming framing, long length)
    {
        System.Diagnostics.Debug.Assert(_connection is null, "a body stream is used again only once disposed");
        _connection = connection;
        _framing = framing;
        _remaining = length;
        _chunk = ChunkState.Size;
    }

    private enum ChunkState
    {
        Size,
        Data,
        DataEnd,
    }

    protected override string ReadAsynchronouslyMessage => "the answer is read asynchronously";

    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_connection is not { } connection)
        {
            return 0;
        }

        if (buffer.IsEmpty)
        {
            return 0;
        }

        try
        {
            var read = _framing switch
            {
                BodyFraming.Length => await ReadLengthAsync(connection, buffer, cancellationToken).ConfigureAwait(false),
                BodyFraming.Chunked => await ReadChunkedAsync(connection, buffer, cancellationToken).ConfigureAwait(false),
                _ => await connection.ReadAsync(buffer, cancellationToken).ConfigureAwait(false),
            };
            if (read == 0)
            {
                // The end, as framed: the connection is free for another exchange (a close-delimited one is closed).
                _connection = null;
                connection.Release();
            }

            return read;
        }
        catch
        {
            _connection = null;
            connection.Dispose();
            throw;
        }
    }

    /// <summary>A <c>Content-Length</c> body is written from the connection's buffer as it is (no copy buffer rented per answer).</summary>
    public override Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken) =>
        _framing == BodyFraming.Length && _connection is { } connection
            ? CopyLengthAsync(connection, destination, cancellationToken)
            : base.CopyToAsync(destination, bufferSize, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _connection, null) is { } connection)
        {
            if (_framing == BodyFraming.Length && _remaining <= connection.Buffered.Length)
            {
                // Dropped with the rest of its body already received (a retried 503's small body, most often): that rest
                // is consumed and the connection kept, rather than closed with bytes unread, which resets it (the
                // instance's server may log the reset as an error: Python's http.server prints a traceback).
                connection.Consume((int)_remaining);
                _remaining = 0;
                connection.Release();
            }
            else if (_framing == BodyFraming.Length && _remaining <= MaxDrain)
            {
                // A small rest still on its way (a server that writes its head and its body apart): read and dropped in
                // the background, as SocketsHttpHandler drains an answer disposed unread, within a time limit.
                _ = DrainAsync(connection, _remaining);
            }
            else
            {
                connection.Dispose(); // before the end: what is left of the answer is still on the wire
            }
        }

        base.Dispose(disposing);
    }

    // What is left of the body: consumed as it comes, then the connection goes back to its idle stack; closed when the
    // instance takes longer than DrainTime or the connection fails.
    private static async Task DrainAsync(Http1Connection connection, long remaining)
    {
        using var limit = new CancellationTokenSource(DrainTime);
        try
        {
            while (remaining > 0)
            {
                if (connection.Buffered.IsEmpty && await connection.ReadMoreAsync(limit.Token).ConfigureAwait(false) == 0)
                {
                    connection.Dispose(); // ended early: nothing to keep
                    return;
                }

                var count = (int)Math.Min(remaining, connection.Buffered.Length);
                connection.Consume(count);
                remaining -= count;
            }

            connection.Release();
        }
#pragma warning disable CA1031 // a drain nobody awaits: any failure just closes the connection
        catch (Exception)
#pragma warning restore CA1031
        {
            connection.Dispose();
        }
    }

    private async Task CopyLengthAsync(Http1Connection connection, Stream destination, CancellationToken cancellationToken)
    {
        try
        {
            while (_remaining > 0)
            {
                if (connection.BufferedMemory.IsEmpty && await connection.ReadMoreAsync(cancellationToken).ConfigureAwait(false) == 0)
                {
                    throw new Http1ReadException(HttpRequestError.ResponseEnded, "The response ended prematurely, with at least " + _remaining + " additional bytes expected.");
                }

                var chunk = connection.BufferedMemory;
                if (chunk.Length > _remaining)
                {
                    chunk = chunk[..(int)_remaining];
                }

                await destination.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
                connection.Consume(chunk.Length);
                _remaining -= chunk.Length;
            }

            _connection = null;
            connection.Release();
        }
        catch
        {
            _connection = null;
            connection.Dispose();
            throw;
        }
    }

    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    private async ValueTask<int> ReadLengthAsync(Http1Connection connection, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_remaining == 0)
        {
            return 0;
        }

        var read = await connection.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            throw new Http1ReadException(HttpRequestError.ResponseEnded, "The response ended prematurely, with at least " + _remaining + " additional bytes expected.");
        }

        _remaining -= read;
        if (_remaining == 0)
        {
            // The last byte: the connection is free now, not only after a read that returns 0 (a reader may stop here).
            _connection = null;
            connection.Release();
        }

        return read;
    }

    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder<>))]
    private async ValueTask<int> ReadChunkedAsync(Http1Connection connection, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            switch (_chunk)
            {
                case ChunkState.Size:
                    var length = await connection.ReadLineAsync(LineLimit, cancellationToken).ConfigureAwait(false);
                    if (!ResponseHeadParser.TryParseChunkSize(connection.Buffered[..length], out _remaining))
                    {
                        throw new Http1ReadException(HttpRequestError.InvalidResponse, "Received an invalid chunk size.");
                    }

                    connection.Consume(length + 2);
                    if (_remaining == 0)
                    {
                        await SkipTrailersAsync(connection, cancellationToken).ConfigureAwait(false);
                        return 0;
                    }

                    _chunk = ChunkState.Data;
                    break;
                case ChunkState.Data:
                    var read = await connection.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new Http1ReadException(HttpRequestError.ResponseEnded, "The response ended prematurely.");
                    }

                    _remaining -= read;
                    if (_remaining == 0)
                    {
                        _chunk = ChunkState.DataEnd;
                    }

                    return read;
                default:
                    if (await connection.ReadLineAsync(LineLimit, cancellationToken).ConfigureAwait(false) != 0)
                    {
                        throw new Http1ReadException(HttpRequestError.InvalidResponse, "A chunk is longer than its size.");
                    }

                    connection.Consume(2);
                    _chunk = ChunkState.Size;
                    break;
            }
        }
    }

    // Trailer fields are dropped (the forwarder passes none on); bounded like a head.
    private static async ValueTask SkipTrailersAsync(Http1Connection connection, CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            var length = await connection.ReadLineAsync(LineLimit, cancellationToken).ConfigureAwait(false);
            connection.Consume(length + 2);
            if (length == 0)
            {
                return;
            }

            total += length + 2;
            if (total > ResponseHeadParser.MaxHeadBytes)
            {
                throw new Http1ReadException(HttpRequestError.InvalidResponse, "The trailers are too long.");
            }
        }
    }
}

/// <summary>An answer's content: its headers and <see cref="ResponseBodyStream"/> (or nothing, for an answer without a body).</summary>
internal sealed class ResponseContent : HttpContent
{
    /// <summary>Set once the head was read (the content headers are added first).</summary>
    public Stream Body { get; set; } = Stream.Null;

    /// <summary>A kept answer's body stream, disposed, for its next body (<see cref="LeanResponse.BodyStream"/>).</summary>
    internal ResponseBodyStream? Kept { get; set; }

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
        Body.CopyToAsync(stream);

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken) =>
        Body.CopyToAsync(stream, cancellationToken);

    protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult(Body);

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => Task.FromResult(Body);

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => Body;

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Body.Dispose();
        }

        base.Dispose(disposing);
    }
}

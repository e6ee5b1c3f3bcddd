using System.Buffers.Text;
using System.Runtime.CompilerServices;

namespace Sidecar.Forwarding.Http1;

/// <summary>
/// Where the request's content writes its body (through <see cref="HttpContent.CopyToAsync(Stream, CancellationToken)"/>):
/// bounded by the declared <c>Content-Length</c>, or as chunks. Small writes land behind the head in
/// the connection's buffer, so a small body leaves with its head in one send.
/// </summary>
internal sealed class RequestBodyStream(Http1Connection connection, RequestFraming framing, long length) : Stream
{
    private long _remaining = length;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        if (framing == RequestFraming.Length)
        {
            _remaining -= buffer.Length;
            if (_remaining < 0)
            {
                throw new HttpRequestException(HttpRequestError.Unknown, "The request body is longer than its Content-Length.");
            }

            return connection.WriteAsync(buffer, cancellationToken);
        }

        return WriteChunkAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("the request body is written asynchronously");

    /// <summary>The body is over: the last chunk, or the check that it was as long as it said; then everything goes out.</summary>
    public ValueTask CompleteAsync(CancellationToken cancellationToken)
    {
        if (framing == RequestFraming.Chunked)
        {
            connection.Output.Append("0\r\n\r\n"u8);
        }
        else if (_remaining != 0)
        {
            throw new HttpRequestException(HttpRequestError.Unknown, "The request body is shorter than its Content-Length.");
        }

        return connection.FlushAsync(cancellationToken);
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    [AsyncMethodBuilder(typeof(Sidecar.Platform.PooledFrameBuilder))]
    private async ValueTask WriteChunkAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        var output = connection.Output;
        Utf8Formatter.TryFormat(buffer.Length, output.Reserve(10), out var written, new System.Buffers.StandardFormat('X'));
        output.Count += written;
        output.Append("\r\n"u8);
        await connection.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        output.Append("\r\n"u8);
    }
}

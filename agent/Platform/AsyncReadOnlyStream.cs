namespace Sidecar.Platform;

/// <summary>
/// What a forward-only stream that is read asynchronously says to everything else: not seekable, not
/// writable, no length, no synchronous read (on the socket threads a blocking read would stall every
/// connection they serve: docs/performance.md#what-was-tuned). A subclass gives
/// <see cref="Stream.ReadAsync(Memory{byte}, CancellationToken)"/> only.
/// </summary>
internal abstract class AsyncReadOnlyStream : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>What <see cref="Read(byte[], int, int)"/> says when called: which body this is.</summary>
    protected abstract string ReadAsynchronouslyMessage { get; }

    public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException(ReadAsynchronouslyMessage);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

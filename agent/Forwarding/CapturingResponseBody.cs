using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace Sidecar.Forwarding;

/// <summary>
/// Passes the answer's body to the caller as it streams and keeps a copy, up to a limit, for the response
/// cache (docs/resilience.md#response-cache). Past the limit the copy is dropped and the answer is not stored;
/// the caller's stream is never held back.
/// </summary>
internal sealed class CapturingResponseBody : Stream, IHttpResponseBodyFeature
{
    private readonly IHttpResponseBodyFeature _inner;
    private readonly long _limit;
    private MemoryStream? _copy = new();
    private PipeWriter? _writer;

    public CapturingResponseBody(IHttpResponseBodyFeature inner, long limit)
    {
        _inner = inner;
        _limit = limit;
    }

    /// <summary>The whole body, or null when it went past the limit.</summary>
    public byte[]? Captured => _copy?.ToArray();

    public Stream Stream => this;

    public PipeWriter Writer => _writer ??= PipeWriter.Create(this, new StreamPipeWriterOptions(leaveOpen: true));

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        _copy = null; // not the forwarder's: never stored
        return _inner.SendFileAsync(path, offset, count, cancellationToken);
    }

    public async Task CompleteAsync()
    {
        if (_writer is not null)
        {
            await _writer.FlushAsync().ConfigureAwait(false);
        }

        await _inner.CompleteAsync().ConfigureAwait(false);
    }

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Keep(buffer.Span);
        return _inner.Stream.WriteAsync(buffer, cancellationToken);
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.Stream.FlushAsync(cancellationToken);

    public override void Flush() => _inner.Stream.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Keep(ReadOnlySpan<byte> bytes)
    {
        if (_copy is null)
        {
            return;
        }

        if (_copy.Length + bytes.Length > _limit)
        {
            _copy = null;
            return;
        }

        _copy.Write(bytes);
    }
}

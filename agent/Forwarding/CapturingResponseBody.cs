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
    private readonly ResponseCache _cache;
    private readonly HttpResponse _response;
    private readonly bool _authorized;
    private bool _decided;
    private MemoryStream? _copy;
    private PipeWriter? _writer;

    /// <param name="inner">The caller's body.</param>
    /// <param name="cache">Whose rules and clock decide, once, at the first write (the answer's status and headers are set by then), whether to keep a copy at all.</param>
    /// <param name="response">The answer being written.</param>
    /// <param name="authorized">The request had <c>Authorization</c>.</param>
    public CapturingResponseBody(IHttpResponseBodyFeature inner, ResponseCache cache, HttpResponse response, bool authorized)
    {
        // State rather than a closure: one object per cacheable call, not three (docs/resilience.md#cost).
        _inner = inner;
        _limit = cache.MaxEntryBytes;
        _cache = cache;
        _response = response;
        _authorized = authorized;
    }

    private bool Storable() => CacheRules.ForResponse(_response.StatusCode, _response.Headers, _authorized, _cache.Time.GetUtcNow()).Storable;

    /// <summary>Whether the first write found the answer storable (an answer without a body never wrote).</summary>
    private bool Decide()
    {
        if (!_decided)
        {
            _decided = true;
            _copy = Storable() ? new MemoryStream() : null;
        }

        return _copy is not null;
    }

    /// <summary>The whole body, or null when it went past the limit or was not storable.</summary>
    public byte[]? Captured => !_decided ? (Storable() ? [] : null) : _copy?.ToArray();

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
        _decided = true;
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
        if (!Decide())
        {
            return;
        }

        if (_copy!.Length + bytes.Length > _limit)
        {
            _copy = null;
            return;
        }

        _copy.Write(bytes);
    }
}

using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// The caller's request body on its way to an instance when it is too large to buffer: an optional
/// prefix already read (while probing a chunked body's size), then the rest straight from Kestrel.
/// It counts bytes against <c>MaxBodySize</c>, remembers whether reading has started (a body that
/// was never read can still go to another instance) and tells the caller's failures from the
/// upstream's. Disposing it does nothing: the body belongs to Kestrel.
/// </summary>
internal sealed class ForwardedRequestStream(Stream inner, byte[] prefix, long? length, long maxBodySize) : AsyncReadOnlyStream
{
    private int _prefixOffset;
    private long _total;

    /// <summary>The declared Content-Length, when there was one.</summary>
    public long? DeclaredLength { get; } = length;

    public bool Started { get; private set; }

    public bool TooLarge { get; private set; }

    public bool ClientFailed { get; private set; }

    protected override string ReadAsynchronouslyMessage => "the request body is read asynchronously";

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Started = true;
        if (_prefixOffset < prefix.Length)
        {
            var count = Math.Min(buffer.Length, prefix.Length - _prefixOffset);
            prefix.AsSpan(_prefixOffset, count).CopyTo(buffer.Span);
            _prefixOffset += count;
            return Count(count);
        }

        int read;
        try
        {
            read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ClientFailed = true;
            throw;
        }

        return Count(read);
    }

    // Not ours to close: Kestrel owns the request body, and a retry may still need an unread one.
    protected override void Dispose(bool disposing) => base.Dispose(disposing);

    private int Count(int read)
    {
        _total += read;
        if (maxBodySize > 0 && _total > maxBodySize)
        {
            TooLarge = true;
            throw new IOException($"the request body exceeds {maxBodySize} bytes");
        }

        return read;
    }
}

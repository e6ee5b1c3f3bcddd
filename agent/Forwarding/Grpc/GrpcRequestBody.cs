using System.Net;

namespace Sidecar.Forwarding.Grpc;

/// <summary>
/// The caller's request body as the content of a gRPC attempt: streamed as it arrives, each read
/// flushed at once (a stream's messages must not wait in a buffer, docs/grpc.md#how-a-call-is-forwarded), so the
/// instance may answer before the body ends (full duplex). When the service retries on a gRPC status
/// (<c>GrpcRetryOn</c>) the bytes are also kept up to <c>RetryBufferSize</c>, so a body that ended
/// within it can be sent again (<see cref="Replay"/>).
/// </summary>
internal sealed class GrpcRequestBody(Stream source, int keepUpTo) : HttpContent
{
    private MemoryStream? _kept = keepUpTo > 0 ? new MemoryStream() : null;

    /// <summary>Reading the caller's body has begun: an attempt may have sent part of it.</summary>
    public bool Started { get; private set; }

    /// <summary>The caller's body ended and every byte of it was kept.</summary>
    public bool Replayable => Ended && _kept is not null;

    private bool Ended { get; set; }

    /// <summary>Reading the caller's body failed: its stream broke, or it went over <c>MaxBodySize</c> (<see cref="TooLarge"/>).</summary>
    public bool CallerFailed { get; private set; }

    /// <summary>The caller's body went over the service's <c>MaxBodySize</c>.</summary>
    public bool TooLarge { get; private set; }

    /// <summary>The kept body as a new content, for another attempt; only when <see cref="Replayable"/>.</summary>
    public HttpContent Replay() => new ReadOnlyMemoryContent(_kept!.GetBuffer().AsMemory(0, (int)_kept.Length));

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        Started = true;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (true)
            {
                int read;
                try
                {
                    read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The caller's fault (its stream broke, or it is over MaxBodySize): never the instance's.
                    CallerFailed = true;
                    TooLarge = ex is Microsoft.AspNetCore.Http.BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge };
                    throw;
                }

                if (read == 0)
                {
                    Ended = true;
                    return;
                }

                if (_kept is not null)
                {
                    if (_kept.Length + read > keepUpTo)
                    {
                        _kept = null; // too large to send again: streamed only
                    }
                    else
                    {
                        _kept.Write(buffer, 0, read);
                    }
                }

                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}

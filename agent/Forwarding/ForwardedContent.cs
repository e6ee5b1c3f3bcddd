using System.Net;

namespace Sidecar.Forwarding;

/// <summary>The request body of one attempt: the buffered bytes again, or the caller's stream once.</summary>
internal sealed class ForwardedContent(RequestBody body) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        body.WriteAsync(stream, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        body.WriteAsync(stream, cancellationToken);

    // Known length => Content-Length; unknown => SocketsHttpHandler sends it chunked.
    protected override bool TryComputeLength(out long length) => body.TryComputeLength(out length);
}

using System.Net;

namespace Sidecar.Forwarding;

/// <summary>The request body of one attempt: the buffered bytes again, or the caller's stream once.</summary>
internal sealed class ForwardedContent(ForwardCall call) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        call.WriteBodyAsync(stream, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        call.WriteBodyAsync(stream, cancellationToken);

    // Known length => Content-Length; unknown => SocketsHttpHandler sends it chunked.
    protected override bool TryComputeLength(out long length) => call.TryComputeBodyLength(out length);
}

using System.Buffers;
using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// The request body of one forwarded call, read as its <see cref="RequestBodyPlan"/> says: the
/// buffered bytes (sent again by each attempt), the caller's stream (sent once), or nothing. It
/// tells the retry rules where it stands (<see cref="State"/>) and fills each attempt's
/// <see cref="ForwardedContent"/>.
/// </summary>
internal sealed class RequestBody
{
    /// <summary>A request without a body.</summary>
    public static readonly RequestBody None = new(null, null);

    private readonly byte[]? _buffered;
    private readonly ForwardedRequestStream? _stream;

    public RequestBody(byte[]? buffered, ForwardedRequestStream? stream)
    {
        _buffered = buffered;
        _stream = stream;
    }

    /// <summary>Whether an attempt sends content (an empty buffer included: it keeps <c>Content-Length: 0</c>).</summary>
    public bool HasContent => _buffered is not null || _stream is not null;

    /// <summary>A streamed body: only the deadline bounds its attempts (no per-try time-out).</summary>
    public bool IsStreamed => _stream is not null;

    /// <summary>The body passed <c>MaxBodySize</c> while streaming.</summary>
    public bool TooLarge => _stream is { TooLarge: true };

    /// <summary>The caller's body could not be read.</summary>
    public bool CallerFailed => _stream is { ClientFailed: true };

    /// <summary>What the caller's body caused: never retried, never the instance's failure.</summary>
    public bool CallersFault => _stream is { TooLarge: true } or { ClientFailed: true };

    /// <summary>Where the body stands, for the retry rules.</summary>
    public BodyState State => _stream switch
    {
        null => BodyState.Replayable,
        { TooLarge: true } => BodyState.TooLarge,
        { ClientFailed: true } => BodyState.CallerFailed,
        { Started: true } => BodyState.StreamSent,
        _ => BodyState.StreamUnread,
    };

    /// <summary>
    /// Reads the caller's body as the policy's plan says (docs/forwarding.md#bodies-and-headers): whole when it
    /// fits <c>RetryBufferSize</c>, otherwise as a stream. Null when it is over <c>MaxBodySize</c> (the caller answers 413).
    /// A <see cref="ValueTask{TResult}"/>: a call without a body, most of them, allocates no task.
    /// </summary>
    public static async ValueTask<RequestBody?> ReadAsync(HttpContext context, ServicePolicy policy)
    {
        var request = context.Request;
        var declared = request.ContentLength;
        var canHaveBody = HttpFeatures.CanHaveBody(context);
        var plan = RequestBodyPlan.For(declared, canHaveBody, policy.MaxBodySize, policy.RetryBufferSize);
        if (plan.Kind == BodyPlanKind.TooLarge)
        {
            return null;
        }

        // The forwarder enforces its own limit (MaxBodySize); Kestrel's, for the agent's own routes (1 MiB, KestrelLimits), would cut uploads short.
        if (HttpFeatures.MaxRequestBodySize(context) is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        switch (plan.Kind)
        {
            case BodyPlanKind.None:
                return None;
            case BodyPlanKind.Empty:
                return new RequestBody([], null);
            case BodyPlanKind.Buffer:
                var buffer = new byte[plan.Length];
                await request.Body.ReadExactlyAsync(buffer, context.RequestAborted).ConfigureAwait(false);
                return new RequestBody(buffer, null);
            case BodyPlanKind.Stream:
                return new RequestBody(null, new ForwardedRequestStream(request.Body, [], declared, policy.MaxBodySize));
        }

        // Chunked: read up to the buffer size plus one byte to learn whether the body fits.
        var probe = (int)plan.Length;
        var scratch = ArrayPool<byte>.Shared.Rent(probe);
        try
        {
            var read = await request.Body.ReadAtLeastAsync(scratch.AsMemory(0, probe), probe, throwOnEndOfStream: false, context.RequestAborted).ConfigureAwait(false);

            // Copies, not the pooled array: a cancelled send may still be reading the content.
            return RequestBodyPlan.AfterProbe(read, policy.MaxBodySize, policy.RetryBufferSize).Kind switch
            {
                BodyPlanKind.TooLarge => null,
                BodyPlanKind.Buffer => new RequestBody(scratch.AsSpan(0, read).ToArray(), null),
                _ => new RequestBody(null, new ForwardedRequestStream(request.Body, scratch.AsSpan(0, read).ToArray(), null, policy.MaxBodySize)),
            };
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>The length to declare: known for a buffered body or a declared <c>Content-Length</c>; otherwise the body goes chunked.</summary>
    public bool TryComputeLength(out long length)
    {
        if (_buffered is not null)
        {
            length = _buffered.Length;
            return true;
        }

        length = _stream?.DeclaredLength ?? 0;
        return _stream?.DeclaredLength is not null;
    }

    /// <summary>Sends the body: the buffer again, or the caller's stream (once).</summary>
    public Task WriteAsync(Stream target, CancellationToken cancellationToken) =>
        _buffered is not null
            ? target.WriteAsync(_buffered, cancellationToken).AsTask()
            : _stream!.CopyToAsync(target, cancellationToken);
}

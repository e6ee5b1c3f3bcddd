namespace Sidecar.Forwarding;

/// <summary>What to do with a request body (<see cref="RequestBodyPlan"/>).</summary>
internal enum BodyPlanKind
{
    /// <summary>No body: the request is sent without content.</summary>
    None,

    /// <summary>An explicit <c>Content-Length: 0</c>, kept (a POST without it is refused by some servers).</summary>
    Empty,

    /// <summary>Over <c>MaxBodySize</c>: the agent answers <c>413</c> and sends nothing.</summary>
    TooLarge,

    /// <summary>Read whole (<see cref="RequestBodyPlan.Length"/> bytes) before the first attempt: it can be sent again.</summary>
    Buffer,

    /// <summary>Streamed to the instance as it arrives: it can go to another instance only while no byte of it was read.</summary>
    Stream,

    /// <summary>A chunked body: read up to <see cref="RequestBodyPlan.Length"/> bytes (the buffer size plus one) to learn whether it fits.</summary>
    Probe,
}

/// <summary>
/// How a request body is carried (docs/forwarding.md#bodies-and-headers), with no I/O: bodies up to
/// <c>RetryBufferSize</c> are buffered so a retry can send them again, larger or unknown-length ones
/// stream, and a body over <c>MaxBodySize</c> (<c>0</c>: no limit) is refused. A chunked body is
/// probed first: <see cref="For"/> says how much to read, <see cref="AfterProbe"/> what the bytes read mean.
/// </summary>
/// <param name="Kind">What to do.</param>
/// <param name="Length">The bytes to buffer (<see cref="BodyPlanKind.Buffer"/>) or to probe (<see cref="BodyPlanKind.Probe"/>);
/// the declared length of a <see cref="BodyPlanKind.Stream"/>, -1 when unknown (chunked); 0 otherwise.</param>
internal readonly record struct RequestBodyPlan(BodyPlanKind Kind, long Length)
{
    /// <summary>Whether a retry can send the body again as it is planned (a stream only until its first byte is read).</summary>
    public bool Replayable => Kind is BodyPlanKind.None or BodyPlanKind.Empty or BodyPlanKind.Buffer;

    /// <summary>The plan before any byte is read.</summary>
    /// <param name="declared">The request's <c>Content-Length</c>, if any.</param>
    /// <param name="canHaveBody">Kestrel's view of whether the request has a body (null when it has none to give).</param>
    /// <param name="maxBodySize">The policy's <c>MaxBodySize</c> (0: no limit).</param>
    /// <param name="bufferSize">The policy's <c>RetryBufferSize</c>.</param>
    public static RequestBodyPlan For(long? declared, bool? canHaveBody, long maxBodySize, int bufferSize)
    {
        if (maxBodySize > 0 && declared > maxBodySize)
        {
            return new(BodyPlanKind.TooLarge, 0);
        }

        if (!(canHaveBody ?? declared > 0))
        {
            return new(declared == 0 ? BodyPlanKind.Empty : BodyPlanKind.None, 0);
        }

        if (declared is { } length)
        {
            return length <= bufferSize ? new(BodyPlanKind.Buffer, length) : new(BodyPlanKind.Stream, length);
        }

        return new(BodyPlanKind.Probe, bufferSize + 1L);
    }

    /// <summary>The plan for a chunked body once the probe read <paramref name="read"/> bytes (at most the buffer size plus one).</summary>
    public static RequestBodyPlan AfterProbe(int read, long maxBodySize, int bufferSize)
    {
        if (maxBodySize > 0 && read > maxBodySize)
        {
            return new(BodyPlanKind.TooLarge, 0);
        }

        // The probe read past the buffer: the bytes read go first, then the rest of the stream.
        return read <= bufferSize ? new(BodyPlanKind.Buffer, read) : new(BodyPlanKind.Stream, -1);
    }
}

namespace Sidecar.Forwarding.Http1;

/// <summary>
/// One header field of an answer as read: its name as HttpHeaders spells it, its value (Latin-1), whether
/// HttpHeaders files it with the content, and whether it knows the name (<see cref="ResponseFieldNames"/>).
/// </summary>
internal readonly record struct ResponseField(string Name, string Value, bool Content, bool Known = true)
{
    /// <summary>The same name, as HttpHeaders compares them (ignoring case); known names by reference, as each is one string.</summary>
    public bool SameName(in ResponseField other) =>
        ReferenceEquals(Name, other.Name) ||
        (!Known && !other.Known && Name.Length == other.Name.Length && string.Equals(Name, other.Name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// The lean client's answer to a forwarded call (<see cref="OriginFormRequest"/>, docs/performance.md#the-lean-http11-upstream-client):
/// its header fields are kept as read, in order, and not put into <see cref="HttpResponseMessage.Headers"/>
/// or <c>Content.Headers</c>, which stay empty. The forwarder copies the fields straight into Kestrel's
/// response (<c>ResponseHeaders.Copy</c>) and reads <c>Retry-After</c> from them (<c>ResponseHeaders.RetryAfter</c>);
/// filling HttpHeaders' collections only to enumerate them again cost several % of the agent's CPU.
/// The forwarding core's answer goes further (<see cref="Answer"/>): its fields are written into the head of the
/// core's answer as they are read, and the answer keeps only those the forwarder reads.
/// </summary>
internal sealed class LeanResponse : HttpResponseMessage
{
    private ResponseField[] _fields;
    private int _count;

    /// <param name="capacity">The fields expected (the head's lines): the array is made to size, not to a guess (docs/performance.md#what-was-tuned); more are still taken.</param>
    public LeanResponse(int capacity = 12) => _fields = new ResponseField[Math.Max(capacity, 1)];

    /// <summary>
    /// An answer whose fields the parser writes into <paramref name="answer"/>, the head of the forwarding core's answer to
    /// the call, by the proxy's rules (<see cref="AnswerHead.Take"/>; docs/performance.md#one-pass-over-the-answers-head-2026-12-05-seventh-session):
    /// the answer keeps as fields only <c>Retry-After</c> (the retry rules read it) and a <c>Connection</c> that names other fields.
    /// </summary>
    public LeanResponse(AnswerHead answer)
    {
        _fields = [];
        Answer = answer;
    }

    /// <summary>The head this answer's fields were written into (the forwarding core's), or null: the fields are all kept here.</summary>
    public AnswerHead? Answer { get; }

    // The request that takes this answer again once it is disposed (For), or null: disposed as any message.
    private OriginFormRequest? _owner;

    /// <summary>
    /// The answer to <paramref name="request"/>, whose fields go into <paramref name="answer"/> (the forwarding core's call):
    /// the request's last answer when it was disposed since, taken again with its content and body stream
    /// (docs/performance.md#the-answers-read-in-the-callers-frame-2026-12-05-thirteenth-session), else a new one. A call
    /// answered on its request's kept connection allocates none of the three.
    /// </summary>
    public static LeanResponse For(OriginFormRequest request, AnswerHead answer)
    {
        if (request.KeptAnswer is { } kept && ReferenceEquals(kept.Answer, answer))
        {
            request.KeptAnswer = null;
            kept._count = 0;
            kept.HasRepeatedNames = false;
            if (kept.ReasonPhrase is not null)
            {
                kept.ReasonPhrase = null;
            }

            return kept;
        }

        return new LeanResponse(answer) { _owner = request, Content = new ResponseContent() };
    }

    /// <summary>The content of an answer <see cref="For"/> gave, kept with it (set there: read without making one).</summary>
    internal ResponseContent KeptContent => (ResponseContent)Content;

    /// <summary>The body stream of an answer <see cref="For"/> gave: its last one, disposed, taken again; a new one the first time.</summary>
    internal ResponseBodyStream BodyStream(Http1Connection connection, BodyFraming framing, long length)
    {
        if (KeptContent.Kept is { } kept)
        {
            kept.Reset(connection, framing, length);
            return kept;
        }

        return new ResponseBodyStream(connection, framing, length);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && _owner is { } owner && Content is ResponseContent content)
        {
            // Its body ends as a disposed body ends (the connection released, drained or closed); the answer, its content
            // and the body stream are kept for the request's next answer, none of them disposed.
            var body = content.Body;
            content.Body = Stream.Null;
            if (body is ResponseBodyStream stream)
            {
                stream.Dispose();
                content.Kept = stream;
            }

            RequestMessage = null;
            owner.KeptAnswer = this;
            return;
        }

        base.Dispose(disposing);
    }

    /// <summary>The fields in the order they came.</summary>
    public ReadOnlySpan<ResponseField> Fields => _fields.AsSpan(0, _count);

    /// <summary>The value of field <paramref name="index"/>.</summary>
    public string ValueOf(int index) => _fields[index].Value;

    /// <summary>Some name came in more than one field (its values are then copied as one list).</summary>
    public bool HasRepeatedNames { get; private set; }

    internal void Add(string name, string value, bool content, bool known)
    {
        var field = new ResponseField(name, value, content, known);
        if (_count == _fields.Length)
        {
            Array.Resize(ref _fields, Math.Max(_fields.Length * 2, 2));
        }

        if (!HasRepeatedNames)
        {
            foreach (var earlier in Fields)
            {
                if (earlier.SameName(field))
                {
                    HasRepeatedNames = true;
                    break;
                }
            }
        }

        _fields[_count++] = field;
    }
}

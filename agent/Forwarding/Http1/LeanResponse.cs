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
/// </summary>
internal sealed class LeanResponse : HttpResponseMessage
{
    private ResponseField[] _fields;
    private int _count;

    /// <param name="capacity">The fields expected (the head's lines): the array is made to size, not to a guess (docs/performance.md#what-was-tuned); more are still taken.</param>
    public LeanResponse(int capacity = 12) => _fields = new ResponseField[Math.Max(capacity, 1)];

    /// <summary>The fields in the order they came.</summary>
    public ReadOnlySpan<ResponseField> Fields => _fields.AsSpan(0, _count);

    /// <summary>Some name came in more than one field (its values are then copied as one list).</summary>
    public bool HasRepeatedNames { get; private set; }

    internal void Add(string name, string value, bool content, bool known)
    {
        if (_count == _fields.Length)
        {
            Array.Resize(ref _fields, _fields.Length * 2);
        }

        var field = new ResponseField(name, value, content, known);
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

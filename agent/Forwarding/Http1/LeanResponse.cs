using System.Buffers;
using System.Text;

namespace Sidecar.Forwarding.Http1;

/// <summary>
/// One header field of an answer as read: its name as HttpHeaders spells it, its value (Latin-1), whether
/// HttpHeaders files it with the content, and whether it knows the name (<see cref="ResponseFieldNames"/>).
/// In an answer kept as bytes (<see cref="LeanResponse.IsRaw"/>) the value is no string but the range
/// <paramref name="Start"/>, <paramref name="Length"/> of the head's bytes (<see cref="LeanResponse.RawValue"/>).
/// </summary>
internal readonly record struct ResponseField(string Name, string? Value, bool Content, bool Known = true, int Start = 0, int Length = 0)
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
    /// <summary>The field array an answer kept as bytes rents at first: the shared pool's smallest (it grows as fields come).</summary>
    public const int RentedCapacity = 16;

    private ResponseField[] _fields;
    private int _count;
    private byte[]? _head;

    /// <param name="capacity">The fields expected (the head's lines): the array is made to size, not to a guess (docs/performance.md#what-was-tuned); more are still taken.</param>
    public LeanResponse(int capacity = 12) => _fields = new ResponseField[Math.Max(capacity, 1)];

    /// <summary>
    /// An answer kept as bytes (the forwarding core's, docs/performance.md#step-3-begun-what-a-taken-call-allocates): a copy of
    /// <paramref name="head"/> (in a buffer rented until the answer is disposed), of which the values are ranges, so that
    /// a value only copied to the caller is never made a string.
    /// </summary>
    public LeanResponse(int capacity, ReadOnlySpan<byte> head)
    {
        // Its field array is rented too: both go back when the answer is disposed.
        _fields = ArrayPool<ResponseField>.Shared.Rent(Math.Max(capacity, 1));
        _head = ArrayPool<byte>.Shared.Rent(head.Length);
        head.CopyTo(_head);
    }

    /// <summary>The fields in the order they came.</summary>
    public ReadOnlySpan<ResponseField> Fields => _fields.AsSpan(0, _count);

    /// <summary>The values are ranges of the head's bytes (<see cref="RawValue"/>), not strings.</summary>
    public bool IsRaw => _head is not null;

    /// <summary>The value of field <paramref name="index"/> as a string (made here for an answer kept as bytes).</summary>
    public string ValueOf(int index) => _fields[index].Value ?? Encoding.Latin1.GetString(RawValue(index));

    /// <summary>The value of field <paramref name="index"/> of an answer kept as bytes, as it came (Latin-1).</summary>
    public ReadOnlySpan<byte> RawValue(int index) => _head.AsSpan(_fields[index].Start, _fields[index].Length);

    /// <summary>Some name came in more than one field (its values are then copied as one list).</summary>
    public bool HasRepeatedNames { get; private set; }

    internal void Add(string name, string value, bool content, bool known) => Add(new ResponseField(name, value, content, known));

    /// <summary>A field of an answer kept as bytes: its value is <paramref name="length"/> bytes at <paramref name="start"/> of the head.</summary>
    internal void AddRaw(string name, int start, int length, bool content, bool known) => Add(new ResponseField(name, null, content, known, start, length));

    protected override void Dispose(bool disposing)
    {
        if (disposing && _head is { } head)
        {
            _head = null;
            _fields.AsSpan(0, _count).Clear(); // no name kept alive by the pool
            _count = 0;
            ArrayPool<byte>.Shared.Return(head);
            ArrayPool<ResponseField>.Shared.Return(_fields);
            _fields = [];
        }

        base.Dispose(disposing);
    }

    private void Add(in ResponseField field)
    {
        if (_count == _fields.Length)
        {
            if (IsRaw)
            {
                var larger = ArrayPool<ResponseField>.Shared.Rent(_fields.Length * 2);
                _fields.AsSpan().CopyTo(larger);
                _fields.AsSpan().Clear();
                ArrayPool<ResponseField>.Shared.Return(_fields);
                _fields = larger;
            }
            else
            {
                Array.Resize(ref _fields, _fields.Length * 2);
            }
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

using System.Buffers;
using System.Text;
using Microsoft.Extensions.Primitives;

namespace Sidecar.Platform;

/// <summary>
/// Where a forwarded request's header lines go: an <see cref="HttpRequestMessage"/>'s headers, or the request
/// head written straight into bytes by the lean client (docs/performance.md#the-request-head-from-kestrels-headers).
/// One set of rules (the forwarder's, <c>ProxyHeaders</c>; the trace's, <c>TracePropagation</c>) writes to either.
/// </summary>
internal interface IHeaderTarget
{
    /// <summary>A header the agent makes (one value).</summary>
    public void Add(FieldName name, string value);

    /// <summary>A header the agent composes, without a string of its own.</summary>
    public void Add(FieldName name, scoped ReadOnlySpan<char> value);

    /// <summary>A header the agent composes as ASCII bytes with no control character (a new trace's <c>traceparent</c>).</summary>
    public void Add(FieldName name, scoped ReadOnlySpan<byte> ascii);

    /// <summary>The fields this hop adds to every forwarded request (<see cref="ForwardedLines"/>).</summary>
    public void AddForwarded(ForwardedLines lines);

    /// <summary>A caller's header, its values as they came.</summary>
    public void AddValues(string name, StringValues values);

    /// <summary>A caller's field line as it came in a request head: its name (as characters, and as the bytes it came in), and its value's bytes (Latin-1).</summary>
    public void AddLine(scoped ReadOnlySpan<char> name, scoped ReadOnlySpan<byte> nameBytes, scoped ReadOnlySpan<byte> value);
}

/// <summary>
/// The name of a header the agent writes itself (<c>X-Forwarded-For</c>, <c>traceparent</c>...), with its bytes made once:
/// a request head's line copies them, where a name given as a string is encoded for each line.
/// </summary>
internal sealed class FieldName(string text)
{
    public string Text { get; } = text;

    /// <summary>The name's bytes (ASCII: a token).</summary>
    public byte[] Bytes { get; } = Encoding.ASCII.GetBytes(text);

    public override string ToString() => Text;
}

/// <summary>Comma-separated field values (RFC 9110 section 5.6.1), as <c>Connection</c>'s; the characters no field value may hold.</summary>
internal static class FieldLists
{
    /// <summary>C0 controls but HTAB, and DEL: RFC 9110 section 5.5 allows none of them in a field value.</summary>
    public static readonly SearchValues<char> ControlCharacters = SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000a\u000b\u000c\u000d\u000e\u000f" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\u007f");

    /// <summary>The same as bytes.</summary>
    public static readonly SearchValues<byte> ControlBytes = SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000a\u000b\u000c\u000d\u000e\u000f"u8 +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\u007f"u8);

    /// <summary>
    /// A value or a list's entry without the optional white space (SP, HTAB) around it; how much went from its start.
    /// A loop of its own: <c>MemoryExtensions.Trim</c> with a set of bytes took about 200 instructions a call, this about
    /// 75 for the values of a forwarded call (docs/performance.md#the-instructions-per-call-2026-12-05-tenth-session).
    /// </summary>
    public static ReadOnlySpan<byte> TrimOws(ReadOnlySpan<byte> value, out int skipped)
    {
        var start = 0;
        while (start < value.Length && value[start] is (byte)' ' or (byte)'\t')
        {
            start++;
        }

        var end = value.Length;
        while (end > start && value[end - 1] is (byte)' ' or (byte)'\t')
        {
            end--;
        }

        skipped = start;
        return value[start..end];
    }

    /// <inheritdoc cref="TrimOws(ReadOnlySpan{byte}, out int)"/>
    public static ReadOnlySpan<byte> TrimOws(ReadOnlySpan<byte> value) => TrimOws(value, out _);

    /// <summary>Whether <paramref name="list"/> holds <paramref name="name"/>, each entry trimmed, compared ignoring case.</summary>
    public static bool Contains(string? list, ReadOnlySpan<char> name)
    {
        foreach (var range in list.AsSpan().Split(','))
        {
            if (list.AsSpan()[range].Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>
/// The caller's request fields as the forwarding rules read them (docs/performance.md#the-exchange): Kestrel's
/// collection of strings, or the lines of a request head as they came (<see cref="HeadFields"/>), where a field
/// that is only copied gets no string. One set of rules (the forwarder's, the trace's)
/// reads either, as one set writes to either kind of <see cref="IHeaderTarget"/>.
/// </summary>
internal readonly struct CallerFields
{
    // One reference (a forwarded head keeps it per attempt): Kestrel's collection or a head's lines.
    private readonly object _source;

    public CallerFields(IHeaderDictionary headers) => _source = headers;

    public CallerFields(HeadFields head) => _source = head;

    /// <summary>The values of the fields named <paramref name="name"/>, one per line, in the order they came; empty when none came.</summary>
    public StringValues this[string name] => _source is HeadFields head ? head.Values(name) : Kestrel[name];

    /// <summary><c>Via</c>'s values (Kestrel's typed slot: the fields read on every call are not looked up by name).</summary>
    public StringValues Via => _source is HeadFields head ? head.Values("Via") : Kestrel.Via;

    /// <summary><c>traceparent</c>'s values.</summary>
    public StringValues TraceParent => _source is HeadFields head ? head.Values("traceparent") : Kestrel.TraceParent;

    /// <summary><c>tracestate</c>'s values.</summary>
    public StringValues TraceState => _source is HeadFields head ? head.Values("tracestate") : Kestrel.TraceState;

    /// <summary>Whether any <c>Connection</c> field came: when none did, no field is named by one.</summary>
    public bool HasConnection => _source is HeadFields head ? head.HasConnection : Kestrel.Connection.Count > 0;

    // What the source is when it is not a head's lines (a type check of a sealed class, then no cast).
    private IHeaderDictionary Kestrel => System.Runtime.CompilerServices.Unsafe.As<IHeaderDictionary>(_source);

    /// <summary>Whether a <c>Connection</c> field names <paramref name="name"/> (its entries trimmed, compared ignoring case).</summary>
    public bool ConnectionNames(ReadOnlySpan<char> name)
    {
        if (_source is HeadFields head)
        {
            return head.ConnectionNames(name);
        }

        var connection = Kestrel.Connection;
        for (var i = 0; i < connection.Count; i++)
        {
            if (FieldLists.Contains(connection[i], name))
            {
                return true;
            }
        }

        return false;
    }

    public Enumerator GetEnumerator() => _source is HeadFields head ? new(null, head) : new(Kestrel, null);

    /// <summary>The fields one by one: Kestrel's in its collection's order, a head's in the order they came.</summary>
    public ref struct Enumerator
    {
        private readonly IEnumerator<KeyValuePair<string, StringValues>>? _kestrel;
        private readonly HeadFields? _head;
        private int _index;

        internal Enumerator(IHeaderDictionary? kestrel, HeadFields? head)
        {
            _kestrel = kestrel?.GetEnumerator();
            _head = head;
            _index = -1;
        }

        public readonly CallerField Current
        {
            get
            {
                if (_kestrel is null)
                {
                    return _head!.Field(_index);
                }

                var pair = _kestrel.Current;
                return new CallerField(pair.Key, pair.Value);
            }
        }

        public bool MoveNext() => _kestrel is not null ? _kestrel.MoveNext() : ++_index < _head!.Count;

        public readonly void Dispose() => _kestrel?.Dispose();
    }
}

/// <summary>One field of the caller's request: a name, and its values as Kestrel's strings or as the head's bytes (one line's).</summary>
internal readonly ref struct CallerField
{
    private readonly string? _name;
    private readonly StringValues _values;
    private readonly ReadOnlySpan<byte> _value;
    private readonly ReadOnlySpan<byte> _nameBytes;

    public CallerField(string name, StringValues values)
    {
        _name = name;
        Name = name;
        _values = values;
    }

    /// <param name="name">The name, widened to characters for the rules.</param>
    /// <param name="nameBytes">The same name as it came (a token: ASCII), copied as it is when the line is.</param>
    /// <param name="value">The value as it came.</param>
    public CallerField(ReadOnlySpan<char> name, ReadOnlySpan<byte> nameBytes, ReadOnlySpan<byte> value)
    {
        Name = name;
        _nameBytes = nameBytes;
        _value = value;
    }

    public ReadOnlySpan<char> Name { get; }

    /// <summary>The name as a string: Kestrel's own, or one made now (for a problem's text: a field refused).</summary>
    public string NameString => _name ?? Name.ToString();

    /// <summary>The first character of a value that RFC 9110 section 5.5 allows in none (a C0 control but HTAB, or DEL), or null.</summary>
    public char? ControlCharacter()
    {
        if (_name is null)
        {
            return _value.IndexOfAny(FieldLists.ControlBytes) is var b and >= 0 ? (char)_value[b] : null;
        }

        for (var i = 0; i < _values.Count; i++)
        {
            var text = _values[i].AsSpan();
            if (text.IndexOfAny(FieldLists.ControlCharacters) is var at and >= 0)
            {
                return text[at];
            }
        }

        return null;
    }

    /// <summary>Writes the field as it came to <paramref name="target"/>.</summary>
    public void CopyTo<T>(ref T target)
        where T : struct, IHeaderTarget
    {
        if (_name is not null)
        {
            target.AddValues(_name, _values);
        }
        else
        {
            target.AddLine(Name, _nameBytes, _value);
        }
    }
}

/// <summary>
/// A request head's field lines as they came (docs/performance.md#the-exchange): the bytes kept, one range per line,
/// the names widened to characters once for the rules; a value becomes a string only when a rule reads it
/// (<see cref="Values"/>), never when it is only copied. One object per connection, read again for each request.
/// </summary>
/// <remarks>
/// <see cref="TryRead"/> takes the field block after the request line and refuses what Kestrel refuses in one:
/// a line not ended by CRLF, a folded line (RFC 9112 section 5.2), a name that is not a token or is followed by
/// white space before its colon (section 5.1), a NUL, CR or LF in a value. The other control characters pass,
/// as they pass Kestrel: the forwarding rules refuse them by name (the forwarder's check of control characters).
/// </remarks>
internal sealed class HeadFields
{
    // RFC 9110 section 5.6.2's tchar.
    private static readonly SearchValues<byte> TokenBytes =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private byte[] _bytes = new byte[1024];
    private char[] _names = new char[256];
    private Line[] _lines = new Line[16];

    // Which names came, as bits (NameBit): a rule that looks a name up that no line has (Via, Forwarded, X-Real-IP,
    // traceparent... on most calls) gets its answer without walking the lines.
    private ulong _nameBits;

    /// <summary>How many field lines the head had.</summary>
    public int Count { get; private set; }

    /// <summary>Whether a <c>Connection</c> field came.</summary>
    public bool HasConnection { get; private set; }

    /// <summary>Whether a value holds a control character (<see cref="FieldLists.ControlBytes"/>: what <see cref="TryRead"/> lets pass of them).</summary>
    public bool HasControl { get; private set; }

    /// <summary>
    /// Reads <paramref name="block"/>: the field lines after the request line, each ended by CRLF, and the empty
    /// line that ends the head or not. False, with nothing kept, for a block Kestrel would answer with 400.
    /// </summary>
    public bool TryRead(ReadOnlySpan<byte> block)
    {
        Refuse(); // nothing kept from the previous head
        if (_bytes.Length < block.Length)
        {
            _bytes = new byte[Math.Max(block.Length, _bytes.Length * 2)];
        }

        block.CopyTo(_bytes);
        var names = 0;
        var at = 0;
        while (at < block.Length)
        {
            var rest = block[at..];
            ReadOnlySpan<byte> line;
            ReadOnlySpan<byte> value;
            int skipped;
            var end = FieldLines.Scan(rest, out var colon, out var valueStart, out var valueEnd);
            if (end >= 0)
            {
                // The common line, read in one pass: what the general reading below finds in it, it finds the same.
                line = rest[..end];
                value = rest[valueStart..valueEnd];
                skipped = valueStart - colon - 1;
                end++; // at its LF, as below
            }
            else
            {
                end = rest.IndexOf((byte)'\n');
                if (end < 1 || rest[end - 1] != '\r')
                {
                    return Refuse();
                }

                line = rest[..(end - 1)];
                if (line.IsEmpty)
                {
                    // The empty line ends the head: nothing may follow it in the block.
                    return at + end + 1 == block.Length || Refuse();
                }

                colon = line.IndexOf((byte)':');
                if (colon < 1 || line[..colon].ContainsAnyExcept(TokenBytes))
                {
                    return Refuse(); // no name, a folded line (it starts with white space), white space before the colon, a non-token name
                }

                if (line[(colon + 1)..].IndexOfAny((byte)'\0', (byte)'\r') >= 0)
                {
                    return Refuse();
                }

                HasControl |= line[(colon + 1)..].ContainsAny(FieldLists.ControlBytes); // a common line has none
                value = FieldLists.TrimOws(line[(colon + 1)..], out skipped);
            }

            if (_names.Length < names + colon)
            {
                Array.Resize(ref _names, Math.Max(names + colon, _names.Length * 2));
            }

            System.Text.Ascii.ToUtf16(line[..colon], _names.AsSpan(names), out _);
            if (Count == _lines.Length)
            {
                Array.Resize(ref _lines, _lines.Length * 2);
            }

            _lines[Count++] = new Line(names, colon, at, at + colon + 1 + skipped, value.Length);
            _nameBits |= NameBit(colon, line[0], line[colon - 1]);
            HasConnection |= colon == 10 && System.Text.Ascii.EqualsIgnoreCase(line[..colon], "Connection"u8);
            names += colon;
            at += end + 1;
        }

        return true;
    }

    /// <summary>Field <paramref name="index"/>, in the order the lines came.</summary>
    public CallerField Field(int index)
    {
        var line = _lines[index];
        return new CallerField(_names.AsSpan(line.NameStart, line.NameLength), _bytes.AsSpan(line.LineStart, line.NameLength), _bytes.AsSpan(line.ValueStart, line.ValueLength));
    }

    /// <summary>Whether a line is named <paramref name="name"/> (compared ignoring case): most answers come from the name bits alone.</summary>
    public bool Has(string name)
    {
        if (!MayHave(name))
        {
            return false;
        }

        for (var i = 0; i < Count; i++)
        {
            if (NameOf(i).Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The values of the lines named <paramref name="name"/> (compared ignoring case), as strings: one per line.</summary>
    public StringValues Values(string name)
    {
        if (!MayHave(name))
        {
            return default;
        }

        string? first = null;
        List<string>? more = null;
        for (var i = 0; i < Count; i++)
        {
            if (NameOf(i).Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                var value = Encoding.Latin1.GetString(ValueBytes(i));
                if (first is null)
                {
                    first = value;
                }
                else
                {
                    (more ??= [first]).Add(value);
                }
            }
        }

        return more is not null ? new StringValues([.. more]) : new StringValues(first);
    }

    /// <summary>Whether a <c>Connection</c> line's list has <paramref name="name"/> (entries trimmed, compared ignoring case).</summary>
    public bool ConnectionNames(ReadOnlySpan<char> name)
    {
        if (!HasConnection)
        {
            return false;
        }

        for (var i = 0; i < Count; i++)
        {
            if (!NameOf(i).Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var list = ValueBytes(i);
            foreach (var range in list.Split((byte)','))
            {
                if (System.Text.Ascii.EqualsIgnoreCase(TrimWhiteSpace(list[range]), name))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Field <paramref name="index"/>'s name, widened to characters.</summary>
    public ReadOnlySpan<char> NameOf(int index) => _names.AsSpan(_lines[index].NameStart, _lines[index].NameLength);

    /// <summary>Field <paramref name="index"/>'s value as it came (without the white space around it).</summary>
    public ReadOnlySpan<byte> ValueBytes(int index) => _bytes.AsSpan(_lines[index].ValueStart, _lines[index].ValueLength);

    private bool Refuse()
    {
        Count = 0;
        HasConnection = false;
        HasControl = false;
        _nameBits = 0;
        return false;
    }

    // A name's bit, from its length and its first and last characters with ASCII's case bit set: ASCII names equal ignoring
    // case get the same bit (a line's name is a token, the rules' names are ASCII); different names may too, and are then
    // told apart by the walk.
    // False when no line has a name of this length, first and last letter (the name bits): then no line has the name.
    private bool MayHave(string name) => name.Length != 0 && (_nameBits & NameBit(name.Length, name[0], name[^1])) != 0;

    private static ulong NameBit(int length, int first, int last) => 1UL << (int)((uint)((length * 7) + ((first | 0x20) * 3) + (last | 0x20)) & 63);

    // As ReadOnlySpan<char>.Trim trims a Connection entry Kestrel read (FieldLists.Contains): every white-space character of Latin-1.
    private static ReadOnlySpan<byte> TrimWhiteSpace(ReadOnlySpan<byte> entry)
    {
        var start = 0;
        while (start < entry.Length && char.IsWhiteSpace((char)entry[start]))
        {
            start++;
        }

        var end = entry.Length;
        while (end > start && char.IsWhiteSpace((char)entry[end - 1]))
        {
            end--;
        }

        return entry[start..end];
    }

    // A line's name in the characters (NameStart) and in the bytes (LineStart, where the line begins), and its value in the bytes.
    private readonly record struct Line(int NameStart, int NameLength, int LineStart, int ValueStart, int ValueLength);
}

using System.Buffers;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Sidecar.Platform;

namespace Sidecar.Forwarding.Http1;

/// <summary>How the forwarding core sends an answer's body, as Kestrel would (<see cref="AnswerHead.Write"/>).</summary>
internal enum AnswerFraming
{
    /// <summary>As many bytes as <c>Content-Length</c> says.</summary>
    Length,

    /// <summary>In chunks, <c>Transfer-Encoding: chunked</c>: the instance's answer had no length and a body.</summary>
    Chunked,

    /// <summary>No body: <c>HEAD</c>, 204, 205, 304, or a known empty one.</summary>
    None,
}

/// <summary>
/// The head of an answer the forwarding core writes to its caller (docs/performance.md#the-exchange), from the fields
/// <see cref="ResponseHeaders.Copy{T}"/> sets (a lean answer's, or HttpHeaders' collections) or the agent's own
/// problem, by Kestrel's HTTP/1.1 rules as the agent sets Kestrel up: a value Kestrel's headers refuse (a control
/// character, a <c>Content-Length</c> that is not one number) drops its field; the status line with the standard
/// reason; <c>Date</c> when the instance sent none; the framing Kestrel chooses for what the forwarder writes (the
/// instance's <c>Content-Length</c>, else chunks for a body that comes before the end, else <c>Content-Length: 0</c>);
/// <c>Connection: close</c> when the connection ends after it. One object per connection, reset per answer.
/// <c>AnswerHeadTests</c> writes the same answers through Kestrel and through this head, and compares them.
/// </summary>
internal sealed class AnswerHead
{
    // "HTTP/1.1 {status} {reason}\r\n" as bytes, made once per status (Kestrel keeps its status lines as bytes too).
    private static readonly byte[]?[] StatusLines = new byte[]?[600];

    // The fields' lines as they are written ("Name: value\r\n", one line per value), a field's lines together: each
    // field is where its lines start, its name's length (the name is read from its first line) and their length; a
    // name set again drops its earlier lines (Length -1). A field refused (Take) keeps its name's bytes and no line.
    private (int Start, int NameLength, int Length)[] _fieldArray = new (int, int, int)[16];
    private int _fieldCount;
    private readonly HeadBuffer _lines = new(1024);
    private bool _hasDate;
    private bool _hasConnection;
    private bool _dropped; // some field has no line: the lines are not all written as one block
    private ulong _lengths; // the lengths (mod 64) of the names set: a name of a length never set has no line to drop

    /// <summary>The answer's status.</summary>
    public int Status { get; private set; }

    /// <summary>The <c>Content-Length</c> set, if any.</summary>
    public long? ContentLength { get; private set; }

    /// <summary>After <see cref="Write"/>: whether the connection ends after this answer (<c>Connection: close</c> was written or set).</summary>
    public bool Closes { get; private set; }

    /// <summary>Starts a new answer with <paramref name="status"/> and no field.</summary>
    public void Reset(int status)
    {
        Status = status;
        ContentLength = null;
        Closes = false;
        _hasDate = false;
        _hasConnection = false;
        _dropped = false;
        _fieldCount = 0;
        _lengths = 0;
        _lines.Count = 0;
    }

    /// <summary>Sets a field as Kestrel's headers take it: replaced when set again, dropped when a value holds a refused character.</summary>
    public void Set(string name, StringValues values)
    {
        foreach (var value in values)
        {
            // Kestrel's response headers refuse a control character (FieldLists') and any character beyond Latin-1.
            if (value is null || value.AsSpan().ContainsAny(FieldLists.ControlCharacters) || value.AsSpan().ContainsAnyExceptInRange('\u0000', '\u00ff'))
            {
                return;
            }
        }

        if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
        {
            // One decimal number (the lean client checked it; SocketsHttpHandler's collections may hold two).
            if (values.Count != 1 || !long.TryParse(values[0], NumberStyles.None, CultureInfo.InvariantCulture, out var length))
            {
                return;
            }

            ContentLength = length;
        }

        Named(name, values);
        if (values.Count == 0)
        {
            return; // no value: no field (Kestrel's headers take an empty list as the name's removal)
        }

        var start = _lines.Count;
        foreach (var value in values)
        {
            Encoding.Latin1.GetBytes(name, _lines.Line(name.Length, value!.Length, out var valueBytes));
            Encoding.Latin1.GetBytes(value, valueBytes);
        }

        AddField(start, name.Length, _lines.Count - start);
    }

    /// <summary>
    /// An instance's field as its answer's head is read (<see cref="ResponseHeadParser.Parse"/>, the forwarding core's
    /// answers): its line written as it came, name and value (Latin-1 bytes), by the rules <see cref="Set"/> applies to
    /// the list of a name's values (<see cref="ResponseHeaders.Copy{T}"/>): a name one of whose values is refused (a
    /// control character), or whose <c>Content-Length</c> came twice, has none of its fields written.
    /// </summary>
    /// <param name="name">The name as it came (a token).</param>
    /// <param name="value">The value, trimmed.</param>
    /// <param name="kind">What the name is (not a hop-by-hop one: those are never passed on).</param>
    /// <param name="refused">The value holds a control character that Kestrel's headers refuse.</param>
    /// <param name="length">The value of a <c>Content-Length</c>, read by the parser.</param>
    /// <param name="line">The line as it came when it is already "name: value" and CRLF (copied whole); else empty.</param>
    public void Take(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, AnswerFieldKind kind, bool refused, long length, ReadOnlySpan<byte> line = default)
    {
        if (_dropped && IsDropped(name))
        {
            return;
        }

        if (refused || (kind == AnswerFieldKind.ContentLength && ContentLength is not null))
        {
            // The name's earlier lines dropped, and its later ones with them: the name is kept with no line.
            Remove(Encoding.Latin1.GetString(name));
            ContentLength = kind == AnswerFieldKind.ContentLength ? null : ContentLength;
            var at = _lines.Count;
            _lines.Append(name);
            AddField(at, name.Length, -1);
            _dropped = true;
            return;
        }

        _hasDate |= kind == AnswerFieldKind.Date;
        ContentLength = kind == AnswerFieldKind.ContentLength ? length : ContentLength;
        var start = _lines.Count;
        if (line.Length == name.Length + value.Length + 4)
        {
            _lines.Append(line);
        }
        else
        {
            name.CopyTo(_lines.Line(name.Length, value.Length, out var valueBytes));
            value.CopyTo(valueBytes);
        }

        AddField(start, name.Length, _lines.Count - start);
    }

    /// <summary>
    /// Drops the fields an instance's <c>Connection</c> field names (<paramref name="list"/>), once all are taken, as
    /// <see cref="ResponseHeaders.Copy{T}"/> does: only when it names more than the hop-by-hop ones.
    /// </summary>
    public void DropNamedBy(string list)
    {
        if (!ResponseHeaders.NamesMore(list))
        {
            return;
        }

        foreach (var range in list.AsSpan().Split(','))
        {
            if (list.AsSpan()[range].Trim() is { IsEmpty: false } token)
            {
                Remove(token);
            }
        }
    }

    /// <summary>Whether a field of <paramref name="name"/> is set (not dropped).</summary>
    public bool Has(string name)
    {
        foreach (var field in Fields)
        {
            if (field.Length >= 0 && IsNamed(field, name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Writes the head to <paramref name="output"/> by Kestrel's rules for the answer to a <paramref name="method"/>
    /// request; returns how the body goes.
    /// </summary>
    /// <param name="method">The caller's method (a <c>HEAD</c>'s answer has no body).</param>
    /// <param name="keepAlive">Whether the connection serves another request after this one (else <c>Connection: close</c>).</param>
    /// <param name="ended">Whether the answer is complete with no body byte written (then it is <c>Content-Length: 0</c>, not chunked).</param>
    /// <param name="date">Kestrel's <c>Date</c> value of the current second.</param>
    public AnswerFraming Write(IBufferWriter<byte> output, string method, bool keepAlive, bool ended, string date) =>
        Write(output, method, keepAlive, ended, date, default, out _);

    /// <summary>
    /// <see cref="Write(IBufferWriter{byte}, string, bool, bool, string)"/> at the answer's first body bytes: with a
    /// <c>Content-Length</c> framing, <paramref name="body"/> goes in the same span of the output as the head (a pipe's
    /// <c>GetSpan</c> and <c>Advance</c> each take its lock); otherwise the caller writes it (<see cref="WriteBody"/>).
    /// </summary>
    /// <param name="written">Whether <paramref name="body"/> was written after the head.</param>
    public AnswerFraming Write(IBufferWriter<byte> output, string method, bool keepAlive, bool ended, string date, ReadOnlySpan<byte> body, out bool written)
    {
        var canHaveBody = !HttpMethods.IsHead(method) && Status is not (204 or 205 or 304);
        var framing = canHaveBody ? AnswerFraming.Length : AnswerFraming.None;
        string? length = null;
        if (ContentLength is { } declared)
        {
            if (Status is >= 100 and < 200 or 204)
            {
                if (declared != 0)
                {
                    throw new InvalidOperationException($"Setting the header Content-Length is not allowed on responses with status code {Status}.");
                }

                Remove("Content-Length".AsSpan());
                ContentLength = null;
            }
            else if (Status == 205 && declared != 0)
            {
                throw new InvalidOperationException("Responses with status code 205 cannot have a non-zero Content-Length value.");
            }
        }
        else if (ended || !canHaveBody)
        {
            if (canHaveBody && Status is not (>= 100 and < 200))
            {
                length = "0";
                ContentLength = 0;
            }
        }
        else
        {
            framing = AnswerFraming.Chunked;
        }

        Closes |= !keepAlive;
        var connection = Closes && !_hasConnection;
        var statusLine = StatusLine(Status);
        framing = framing == AnswerFraming.Length && ContentLength == 0 ? AnswerFraming.None : framing;
        written = framing == AnswerFraming.Length && !body.IsEmpty;

        // The whole head in one span of the output (and the body's first bytes with it): a pipe's GetSpan and Advance each take its lock.
        var size = statusLine.Length + 2;
        foreach (var field in Fields)
        {
            size += Math.Max(field.Length, 0);
        }

        size += (length is null ? 0 : Lines.FieldSize("Content-Length", length)) +
                (framing == AnswerFraming.Chunked ? Lines.FieldSize("Transfer-Encoding", "chunked") : 0) +
                (connection ? Lines.FieldSize("Connection", "close") : 0) +
                (_hasDate ? 0 : Lines.FieldSize("Date", date));
        var total = size + (written ? body.Length : 0);
        var writer = new Lines(output.GetSpan(total));
        writer.Bytes(statusLine);
        if (!_dropped)
        {
            writer.Bytes(_lines.Written); // every line, in one copy
        }
        else
        {
            foreach (var field in Fields)
            {
                if (field.Length > 0)
                {
                    writer.Bytes(_lines.Array.AsSpan(field.Start, field.Length));
                }
            }
        }

        if (length is not null)
        {
            writer.Field("Content-Length", length);
        }

        if (framing == AnswerFraming.Chunked)
        {
            writer.Field("Transfer-Encoding", "chunked");
        }

        if (connection)
        {
            writer.Field("Connection", "close");
        }

        if (!_hasDate)
        {
            writer.Bytes("Date: "u8);
            writer.Text(date);
            writer.Bytes("\r\n"u8);
        }

        writer.Bytes("\r\n"u8);
        System.Diagnostics.Debug.Assert(writer.Written == size, "the head's size was counted as it is written");
        if (written)
        {
            writer.Bytes(body);
        }

        output.Advance(total);
        return framing;
    }

    private static byte[] StatusLine(int status)
    {
        if ((uint)status < (uint)StatusLines.Length && StatusLines[status] is { } known)
        {
            return known;
        }

        var line = Encoding.Latin1.GetBytes($"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} {ReasonPhrases.GetReasonPhrase(status)}\r\n");
        if ((uint)status < (uint)StatusLines.Length)
        {
            StatusLines[status] = line; // a race makes the same bytes twice
        }

        return line;
    }

    /// <summary>
    /// The agent's own problem (<see cref="Problems"/>), whole, as Kestrel writes <see cref="Problems.WriteAsync"/>'s:
    /// the same fields and body, framed as Kestrel frames them.
    /// </summary>
    public void WriteProblem(IBufferWriter<byte> output, string method, bool keepAlive, string date, int status, string code, string title, string detail)
    {
        Reset(status);
        var target = new CoreAnswer(this);
        Problems.SetFields(ref target, code);
        var framing = Write(output, method, keepAlive, ended: false, date);
        if (framing != AnswerFraming.None)
        {
            WriteBody(output, framing, Problems.Body(status, code, title, detail));
            WriteEnd(output, framing);
        }
    }

    /// <summary>Body bytes as <paramref name="framing"/> sends them: as they are, or as one chunk.</summary>
    public static void WriteBody(IBufferWriter<byte> output, AnswerFraming framing, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty || framing == AnswerFraming.None)
        {
            return;
        }

        if (framing == AnswerFraming.Chunked)
        {
            var prefix = output.GetSpan(18);
            data.Length.TryFormat(prefix, out var digits, "x", CultureInfo.InvariantCulture);
            prefix[digits] = (byte)'\r';
            prefix[digits + 1] = (byte)'\n';
            output.Advance(digits + 2);
            output.Write(data);
            output.Write("\r\n"u8);
            return;
        }

        output.Write(data);
    }

    /// <summary>The end of a chunked body (the last, empty chunk); nothing for the other framings.</summary>
    public static void WriteEnd(IBufferWriter<byte> output, AnswerFraming framing)
    {
        if (framing == AnswerFraming.Chunked)
        {
            output.Write("0\r\n\r\n"u8);
        }
    }

    private void Remove(ReadOnlySpan<char> name)
    {
        if ((_lengths & (1UL << name.Length)) == 0)
        {
            return; // an answer's fields most often have names of their own: no comparison needed
        }

        var fields = Fields;
        for (var i = 0; i < fields.Length; i++)
        {
            if (fields[i].Length >= 0 && IsNamed(fields[i], name))
            {
                fields[i].Length = -1;
                _dropped = true;
            }
        }
    }

    // Whether a field refused by Take has this name: its later fields are refused too.
    private bool IsDropped(ReadOnlySpan<byte> name)
    {
        foreach (var field in Fields)
        {
            if (field.Length < 0 && IsNamed(field, name))
            {
                return true;
            }
        }

        return false;
    }

    private bool IsNamed((int Start, int NameLength, int Length) field, ReadOnlySpan<char> name) =>
        field.NameLength == name.Length && Ascii.EqualsIgnoreCase(_lines.Array.AsSpan(field.Start, field.NameLength), name);

    private bool IsNamed((int Start, int NameLength, int Length) field, ReadOnlySpan<byte> name) =>
        field.NameLength == name.Length && Ascii.EqualsIgnoreCase(_lines.Array.AsSpan(field.Start, field.NameLength), name);

    private Span<(int Start, int NameLength, int Length)> Fields => _fieldArray.AsSpan(0, _fieldCount);

    private void AddField(int start, int nameLength, int length)
    {
        if (_fieldCount == _fieldArray.Length)
        {
            Array.Resize(ref _fieldArray, _fieldArray.Length * 2);
        }

        _fieldArray[_fieldCount++] = (start, nameLength, length);
        _lengths |= 1UL << nameLength;
    }

    // What a field's name says of the answer (Date, Connection), and the name's earlier lines dropped: a field set again is replaced.
    private void Named(string name, StringValues values)
    {
        _hasDate |= name.Equals("Date", StringComparison.OrdinalIgnoreCase);
        if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
        {
            // Set by the agent's own answers only (an instance's is hop-by-hop): "close" ends the connection, as Kestrel reads it.
            _hasConnection = true;
            Closes = values.Any(v => FieldLists.Contains(v, "close"));
        }

        Remove(name.AsSpan());
    }

    // Latin-1, one byte per character (the values were checked when set), into a span sized for the whole head.
    private ref struct Lines(Span<byte> span)
    {
        private readonly Span<byte> _span = span;

        public int Written { get; private set; }

        public static int FieldSize(string name, string value) => name.Length + 2 + value.Length + 2;

        public void Text(string text) => Written += Encoding.Latin1.GetBytes(text, _span[Written..]);

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_span[Written..]);
            Written += bytes.Length;
        }

        public void Field(string name, string value)
        {
            Text(name);
            Text(": ");
            Text(value);
            Text("\r\n");
        }
    }
}

/// <summary>An <see cref="AnswerHead"/> as the target <see cref="ResponseHeaders.CopyFields"/> writes to.</summary>
internal readonly struct CoreAnswer(AnswerHead head) : IAnswerTarget
{
    public void Set(string name, StringValues values) => head.Set(name, values);
}

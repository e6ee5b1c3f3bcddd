using System.Buffers.Text;
using System.Text;

namespace Sidecar.Forwarding.Http1;

/// <summary>A head's bytes, grown as needed: a request head to send (rarely past the first 8 KiB), or the field lines of the core's answer (<see cref="AnswerHead"/>).</summary>
internal sealed class HeadBuffer(int size)
{
    public byte[] Array { get; private set; } = new byte[size];

    public int Count { get; set; }

    public int Free => Array.Length - Count;

    public ReadOnlySpan<byte> Written => Array.AsSpan(0, Count);

    /// <summary>The free part of the buffer, at least <paramref name="count"/> bytes (the buffer grown when it has fewer).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public Span<byte> Reserve(int count)
    {
        if (Array.Length - Count < count)
        {
            Grow(count); // rarely: a head past the buffer's first size
        }

        return Array.AsSpan(Count);
    }

    private void Grow(int count)
    {
        var larger = new byte[Math.Max(Array.Length * 2, Count + count)];
        Array.AsSpan(0, Count).CopyTo(larger);
        Array = larger;
    }

    /// <summary>
    /// Room for one line "name: value" and its CRLF, reserved at once (a head's lines are most of its appends): ": " and
    /// the CRLF written, the name's place returned and the value's in <paramref name="value"/>, for the caller to fill.
    /// </summary>
    public Span<byte> Line(int nameLength, int valueLength, out Span<byte> value)
    {
        var length = nameLength + 2 + valueLength + 2;
        var line = Reserve(length)[..length];
        line[nameLength] = (byte)':';
        line[nameLength + 1] = (byte)' ';
        line[^2] = (byte)'\r';
        line[^1] = (byte)'\n';
        Count += length;
        value = line.Slice(nameLength + 2, valueLength);
        return line[..nameLength];
    }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Reserve(bytes.Length));
        Count += bytes.Length;
    }

    /// <summary>One byte per character (Latin-1, as Kestrel read them and SocketsHttpHandler wrote them with the forwarder's encoding).</summary>
    public void AppendLatin1(scoped ReadOnlySpan<char> text)
    {
        Count += Encoding.Latin1.GetBytes(text, Reserve(text.Length));
    }

    public void AppendDecimal(long value)
    {
        Utf8Formatter.TryFormat(value, Reserve(20), out var written);
        Count += written;
    }
}

/// <summary>How the request body goes after the head.</summary>
internal enum RequestFraming
{
    /// <summary>No body (a POST without content still says <c>Content-Length: 0</c>).</summary>
    None,

    /// <summary><c>Content-Length</c> bytes.</summary>
    Length,

    /// <summary>Length unknown: <c>Transfer-Encoding: chunked</c>.</summary>
    Chunked,
}

/// <summary>
/// Writes a request head straight into bytes (docs/performance.md#the-lean-http11-upstream-client):
/// request line, <c>Host</c> (the request's, or the instance's authority), the request's headers and
/// its content's (or, for a forwarded call, the lines its <see cref="DirectHead"/> writes straight from the
/// caller's headers), and either <c>Content-Length</c> or <c>Transfer-Encoding: chunked</c> from the
/// content, never both, whatever headers the request carries. Values are Latin-1, one byte per
/// character; a CR, LF or NUL in a value is refused (it would split the head).
/// </summary>
internal static class RequestHeadWriter
{
    /// <summary>Appends the head to <paramref name="output"/>; the framing of the body that follows, its length, and whether the request asked to close.</summary>
    public static RequestFraming Write(HttpRequestMessage request, byte[] hostLine, HeadBuffer output, out long length, out bool close)
    {
        close = false;
        output.AppendLatin1(request.Method.Method);
        output.Append(" "u8);
        output.AppendLatin1(request is OriginFormRequest { RequestUri: null, Target: { } target } ? target : request.RequestUri!.PathAndQuery);
        output.Append(" HTTP/1.1\r\n"u8);

        var direct = (request as OriginFormRequest)?.Head;
        if (direct is not null)
        {
            // A forwarded call's headers, from the caller's (no Host, no Connection: both are the forwarder's).
            output.Append(hostLine);
            direct.Write(output, request.Content is not null);
        }
        else
        {
            close = WriteHeaders(request.Headers.NonValidated, hostLine, output);
        }

        length = 0;
        var content = request.Content;
        if (content is null)
        {
            // As SocketsHttpHandler: a method that expects a body says it has none.
            if (MustHaveBody(request.Method))
            {
                output.Append("Content-Length: 0\r\n"u8);
            }

            output.Append("\r\n"u8);
            return RequestFraming.None;
        }

        if (direct is null)
        {
            foreach (var header in content.Headers.NonValidated)
            {
                if (!IsFramingOrHost(header.Key))
                {
                    Header(output, header.Key, header.Value.ToString());
                }
            }
        }

        var framing = RequestFraming.Chunked;
        if (content.Headers.ContentLength is { } known)
        {
            length = known;
            framing = RequestFraming.Length;
            output.Append("Content-Length: "u8);
            output.AppendDecimal(known);
            output.Append("\r\n"u8);
        }
        else
        {
            output.Append("Transfer-Encoding: chunked\r\n"u8);
        }

        output.Append("\r\n"u8);
        return framing;
    }

    /// <summary>One header line; a CR, LF or NUL in the value is refused (it would split the head).</summary>
    internal static void Header(HeadBuffer output, string name, scoped ReadOnlySpan<char> value)
    {
        if (value.IndexOfAny('\r', '\n', '\0') >= 0)
        {
            throw Refused(name);
        }

        // One byte per character, whatever the character (Latin-1's encoder replaces what it cannot map one for one);
        // were a byte ever left unwritten, the line is refused rather than sent with what the buffer held.
        var nameBytes = output.Line(name.Length, value.Length, out var valueBytes);
        if (Encoding.Latin1.GetBytes(name, nameBytes) != name.Length || Encoding.Latin1.GetBytes(value, valueBytes) != value.Length)
        {
            throw Refused(name);
        }
    }

    /// <summary>One line of a header the agent writes: the name's bytes made once (<see cref="Platform.FieldName"/>), the value checked and encoded as <see cref="Header(HeadBuffer, string, ReadOnlySpan{char})"/> does.</summary>
    internal static void Header(HeadBuffer output, Platform.FieldName name, scoped ReadOnlySpan<char> value)
    {
        if (value.IndexOfAny('\r', '\n', '\0') >= 0)
        {
            throw Refused(name.Text);
        }

        var nameBytes = output.Line(name.Bytes.Length, value.Length, out var valueBytes);
        name.Bytes.CopyTo(nameBytes);
        if (Encoding.Latin1.GetBytes(value, valueBytes) != value.Length)
        {
            throw Refused(name.Text);
        }
    }

    /// <summary>Refuses values of which one holds a CR, LF or NUL (they are about to be one line).</summary>
    internal static void Refuse(string name, Microsoft.Extensions.Primitives.StringValues values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i].AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
            {
                throw Refused(name);
            }
        }
    }

    private static HttpRequestException Refused(string name) =>
        new(HttpRequestError.Unknown, $"The value of the request header '{name}' holds a CR, LF or NUL.");

    // A request's own headers (not a forwarded call's): its Host, or the instance's; true when it asks to close.
    private static bool WriteHeaders(System.Net.Http.Headers.HttpHeadersNonValidated headers, byte[] hostLine, HeadBuffer output)
    {
        if (headers.TryGetValues("Host", out var host))
        {
            Header(output, "Host", host.ToString());
        }
        else
        {
            output.Append(hostLine);
        }

        var close = false;
        foreach (var header in headers)
        {
            var name = header.Key;
            if (IsFramingOrHost(name))
            {
                continue;
            }

            var value = header.Value.ToString();
            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase) && value.Contains("close", StringComparison.OrdinalIgnoreCase))
            {
                close = true;
            }

            Header(output, name, value);
        }

        return close;
    }

    private static bool IsFramingOrHost(string name) =>
        name.Equals("Host", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase);

    private static bool MustHaveBody(HttpMethod method) =>
        method != HttpMethod.Get && method != HttpMethod.Head && method != HttpMethod.Delete &&
        method != HttpMethod.Options && method != HttpMethod.Trace && method != HttpMethod.Connect;
}

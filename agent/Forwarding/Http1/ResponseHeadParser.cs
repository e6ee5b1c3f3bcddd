using System.Buffers;
using System.Text;
using Sidecar.Platform;

namespace Sidecar.Forwarding.Http1;

/// <summary>How the body of an answer ends (RFC 9112 section 6.3).</summary>
internal enum BodyFraming
{
    /// <summary>No body: HEAD, 1xx, 204, 304.</summary>
    None,

    /// <summary><c>Content-Length</c> bytes.</summary>
    Length,

    /// <summary><c>Transfer-Encoding: chunked</c>.</summary>
    Chunked,

    /// <summary>Neither: the body ends when the instance closes the connection (never reused).</summary>
    ToClose,
}

/// <summary>What the head of an answer says about its framing and its connection.</summary>
internal readonly record struct ResponseHead(int Status, bool Http10, BodyFraming Framing, long ContentLength, bool KeepAlive);

/// <summary>
/// The strict reader of an answer's head (docs/performance.md#the-lean-http11-upstream-client): a status
/// line, header names as tokens, the colon right after the name, no obs-fold, no bare CR or LF,
/// <c>Transfer-Encoding</c> with <c>Content-Length</c> refused, <c>Content-Length</c> digits only and
/// one value. Bytes in, decision out, no I/O; header values are Latin-1, one character per byte, as
/// SocketsHttpHandler reads them.
/// </summary>
internal static class ResponseHeadParser
{
    /// <summary>The longest head read (SocketsHttpHandler's <c>MaxResponseHeadersLength</c> default, 64 KiB).</summary>
    public const int MaxHeadBytes = 64 * 1024;

    // tchar of RFC 9110 section 5.6.2.
    private static readonly SearchValues<byte> Token = SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>
    /// The status of a head (its first line only), or -1 when the status line is not valid. An interim
    /// answer (1xx but 101) is skipped by the caller without reading its headers.
    /// </summary>
    public static int StatusOf(ReadOnlySpan<byte> head, out bool http10) => StatusOf(head, out http10, out _);

    // The status line's length (up to its CRLF) in end.
    private static int StatusOf(ReadOnlySpan<byte> head, out bool http10, out int end)
    {
        http10 = false;
        end = IndexOfCrlf(head);
        if (end < 0)
        {
            return -1;
        }

        // HTTP/1.x SP 3DIGIT [SP reason]
        var line = head[..end];
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || (line[7] != (byte)'0' && line[7] != (byte)'1') || line[8] != (byte)' ')
        {
            return -1;
        }

        if (!IsDigit(line[9]) || !IsDigit(line[10]) || !IsDigit(line[11]) || line[9] == (byte)'0' || (line.Length > 12 && line[12] != (byte)' '))
        {
            return -1;
        }

        if (line.IndexOfAny((byte)'\r', (byte)'\n') >= 0)
        {
            return -1;
        }

        http10 = line[7] == (byte)'0';
        return ((line[9] - '0') * 100) + ((line[10] - '0') * 10) + (line[11] - '0');
    }

    /// <summary>True for the interim answers skipped before the final one (1xx but 101, as SocketsHttpHandler does).</summary>
    public static bool IsInterim(int status) => status is >= 100 and < 200 and not 101;

    /// <summary>
    /// Reads a head (the bytes up to and including its empty line) and adds its headers to
    /// <paramref name="response"/> (null: checks only): a <see cref="LeanResponse"/> keeps them as fields, or writes them
    /// into the core's answer head (<see cref="LeanResponse.Answer"/>); another response gets them in its header
    /// collections. Returns why it is refused, or null.
    /// </summary>
    /// <param name="head">The head, status line to the empty line.</param>
    /// <param name="requestWasHead">The request was HEAD: no body whatever the headers say.</param>
    /// <param name="response">Where the headers go (a lean response's fields or answer head; or <c>Headers</c>, and <c>Content.Headers</c> for content headers).</param>
    /// <param name="result">The status and the framing.</param>
    /// <param name="values">The connection's previous value strings, reused for a lean response's fields of the same bytes (null: all new).</param>
    public static string? Parse(ReadOnlySpan<byte> head, bool requestWasHead, HttpResponseMessage? response, out ResponseHead result, ResponseValues? values = null)
    {
        result = default;
        var status = StatusOf(head, out var http10, out var statusLine);
        if (status < 0)
        {
            return "invalid status line";
        }

        var lean = response as LeanResponse;
        var answer = lean?.Answer;
        answer?.Reset(status);
        var rest = head[(statusLine + 2)..];
        long length = -1;
        var chunked = false;
        var transferEncoding = false;
        var close = http10;
        while (true)
        {
            ReadOnlySpan<byte> name;
            ReadOnlySpan<byte> value;
            ReadOnlySpan<byte> canonical = default;
            var control = -1;
            var end = FieldLines.Scan(rest, out var colon, out var valueStart, out var valueEnd);
            if (end >= 0)
            {
                // The common line, read in one pass: what the general reading below finds in it, it finds the same.
                name = rest[..colon];
                value = rest[valueStart..valueEnd];
                if (valueStart == colon + 2 && valueEnd == end && rest[colon + 1] == (byte)' ')
                {
                    canonical = rest[..(end + 2)]; // "name: value" and CRLF as the answer's head writes it: copied whole
                }

                rest = rest[(end + 2)..];
            }
            else
            {
                end = IndexOfCrlf(rest);
                if (end < 0)
                {
                    return "head does not end with an empty line";
                }

                var line = rest[..end];
                rest = rest[(end + 2)..];
                if (line.IsEmpty)
                {
                    break;
                }

                if (line[0] is (byte)' ' or (byte)'\t')
                {
                    return "obs-fold (a header line starting with whitespace)";
                }

                colon = line.IndexOf((byte)':');
                if (colon <= 0)
                {
                    return "header line without a name and a colon";
                }

                name = line[..colon];
                if (name.IndexOfAnyExcept(Token) >= 0)
                {
                    return "header name is not a token (or whitespace before the colon)";
                }

                // A control character is refused by Kestrel's headers (the field is dropped), CR and LF by HTTP (the answer is).
                value = FieldLists.TrimOws(line[(colon + 1)..]);
                control = value.IndexOfAny(FieldLists.ControlBytes);
                if (control >= 0 && value[control..].IndexOfAny((byte)'\r', (byte)'\n') >= 0)
                {
                    return "bare CR or LF in a header value";
                }
            }

            var kind = FieldNames.ClassifyAnswer(name);
            long parsed = -1;
            if (kind == AnswerFieldKind.ContentLength)
            {
                if (!TryParseLength(value, out parsed))
                {
                    return "Content-Length is not a number";
                }

                if (length >= 0 && length != parsed)
                {
                    return "two different Content-Length values";
                }

                length = parsed;
            }
            else if (kind == AnswerFieldKind.TransferEncoding)
            {
                // The last coding decides (RFC 9112 section 6.3): chunked last, or read to the close.
                transferEncoding = true;
                var lastComma = value.LastIndexOf((byte)',');
                chunked = FieldNames.EqualsFolded(FieldLists.TrimOws(value[(lastComma + 1)..]), "chunked"u8);
            }
            else if (kind == AnswerFieldKind.Connection)
            {
                close |= HasToken(value, "close"u8);
            }

            if (answer is not null)
            {
                // The forwarding core's answer: its head is written here, by the proxy's rules, with no string made for a
                // field only passed on; the forwarder reads Retry-After, and a Connection that names other fields drops them.
                if (kind is AnswerFieldKind.Other or AnswerFieldKind.Date or AnswerFieldKind.ContentLength or AnswerFieldKind.RetryAfter)
                {
                    answer.Take(name, value, kind, control >= 0, parsed, canonical);
                }

                if (kind == AnswerFieldKind.RetryAfter || (kind == AnswerFieldKind.Connection && !IsKeepAlive(value)))
                {
                    var (nameText, content, known) = ResponseFieldNames.Of(name);
                    lean!.Add(nameText, Encoding.Latin1.GetString(value), content, known);
                }
            }
            else if (lean is not null)
            {
                // A forwarded call's answer: the fields as read, no HttpHeaders collections (LeanResponse).
                var (nameText, content, known) = ResponseFieldNames.Of(name);
                var valueText = values is null ? Encoding.Latin1.GetString(value) : values.Get(lean.Fields.Length, nameText, value);
                lean.Add(nameText, valueText, content, known);
            }
            else if (response is not null)
            {
                var nameText = ResponseFieldNames.Of(name).Name;
                var valueText = Encoding.Latin1.GetString(value);
                if (!response.Headers.TryAddWithoutValidation(nameText, valueText))
                {
                    response.Content.Headers.TryAddWithoutValidation(nameText, valueText);
                }
            }
        }

        if (answer is not null)
        {
            for (var i = 0; i < lean!.Fields.Length; i++)
            {
                if (string.Equals(lean.Fields[i].Name, "Connection", StringComparison.OrdinalIgnoreCase))
                {
                    answer.DropNamedBy(lean.ValueOf(i));
                }
            }
        }

        if (transferEncoding && length >= 0)
        {
            return "Transfer-Encoding and Content-Length together";
        }

        if (status == 101)
        {
            result = new ResponseHead(status, http10, BodyFraming.None, 0, KeepAlive: false);
        }
        else if (requestWasHead || status is 204 or 304 || IsInterim(status))
        {
            result = new ResponseHead(status, http10, BodyFraming.None, 0, !close);
        }
        else if (transferEncoding)
        {
            result = chunked
                ? new ResponseHead(status, http10, BodyFraming.Chunked, 0, !close)
                : new ResponseHead(status, http10, BodyFraming.ToClose, 0, KeepAlive: false);
        }
        else if (length >= 0)
        {
            result = new ResponseHead(status, http10, BodyFraming.Length, length, !close);
        }
        else
        {
            result = new ResponseHead(status, http10, BodyFraming.ToClose, 0, KeepAlive: false);
        }

        return null;
    }

    /// <summary>A chunk-size line (RFC 9112 section 7.1): hex digits (at most 15: bounded), then extensions, ignored.</summary>
    public static bool TryParseChunkSize(ReadOnlySpan<byte> line, out long size)
    {
        size = 0;
        var i = 0;
        for (; i < line.Length; i++)
        {
            var digit = HexValue(line[i]);
            if (digit < 0)
            {
                break;
            }

            if (i == 15)
            {
                return false;
            }

            size = (size << 4) | (uint)digit;
        }

        if (i == 0)
        {
            return false;
        }

        var tail = line[i..].TrimStart(" \t"u8);
        return tail.IsEmpty || tail[0] == (byte)';';
    }

    /// <summary>A <c>Content-Length</c> value: digits only, at most 18 of them (no sign, no overflow).</summary>
    internal static bool TryParseLength(ReadOnlySpan<byte> value, out long length)
    {
        length = 0;
        if (value.IsEmpty || value.Length > 18)
        {
            return false;
        }

        foreach (var b in value)
        {
            if (!IsDigit(b))
            {
                return false;
            }

            length = (length * 10) + (b - '0');
        }

        return true;
    }

    // nginx's "keep-alive": a Connection field that names no other field (no string made for it; "close" names a field
    // "close" to the proxy's rules, and the connection ends anyway).
    /// <summary>
    /// Where the first CRLF is, as <c>IndexOf("\r\n"u8)</c> finds it: a line's LF is found first (a search for one byte,
    /// about half the instructions of a search for two), and the two-byte search runs only past a LF with no CR before it.
    /// </summary>
    internal static int IndexOfCrlf(ReadOnlySpan<byte> span)
    {
        var lf = span.IndexOf((byte)'\n');
        if (lf > 0 && span[lf - 1] == (byte)'\r')
        {
            return lf - 1; // no CRLF can end before the first LF
        }

        return lf < 0 ? -1 : span.IndexOf("\r\n"u8);
    }

    private static bool IsKeepAlive(ReadOnlySpan<byte> value) => FieldNames.EqualsFolded(value, "keep-alive"u8);

    private static bool HasToken(ReadOnlySpan<byte> list, ReadOnlySpan<byte> token)
    {
        foreach (var range in list.Split((byte)','))
        {
            if (FieldNames.EqualsFolded(FieldLists.TrimOws(list[range]), token))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}

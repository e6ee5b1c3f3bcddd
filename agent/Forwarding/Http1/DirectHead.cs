using System.Buffers;
using Microsoft.Extensions.Primitives;
using Sidecar.Observability;
using Sidecar.Platform;

namespace Sidecar.Forwarding.Http1;

/// <summary>
/// The header lines of a request the forwarder aimed at the lean client (<see cref="OriginFormRequest.Aim"/>),
/// written straight into its head (docs/performance.md#the-request-head-from-kestrels-headers) in place of the
/// message's <c>HttpHeaders</c>, which stay empty.
/// </summary>
internal abstract class DirectHead
{
    /// <summary>Appends the header lines (not <c>Host</c>, <c>Content-Length</c> or <c>Transfer-Encoding</c>); content headers only when <paramref name="hasContent"/>.</summary>
    public abstract void Write(HeadBuffer output, bool hasContent);

    /// <summary>Copies the same headers into <paramref name="request"/>'s collections, for a handler that reads them (SocketsHttpHandler).</summary>
    public abstract void CopyTo(HttpRequestMessage request);
}

/// <summary>
/// A request head's header lines as a header target (<see cref="IHeaderTarget"/>): the bytes
/// <see cref="RequestHeadWriter"/> writes for the same headers put into an <see cref="HttpRequestMessage"/>.
/// A caller's header that message would have dropped is dropped (a name that is not a token; a content
/// header, <c>Content-Type</c>, <c>Expires</c>..., of a request without content), and several values of
/// one name are one line joined as <c>HttpHeaders</c> joins them (", ", "; " for <c>Cookie</c>, a space for <c>User-Agent</c>).
/// A CR, LF or NUL in a value is refused.
/// </summary>
internal readonly struct HeadLines(HeadBuffer output, bool hasContent) : IHeaderTarget
{
    // RFC 9110 section 5.6.2's tchar: the names HttpHeaders takes.
    private static readonly SearchValues<char> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    public void Add(FieldName name, string value) => RequestHeadWriter.Header(output, name, value);

    public void Add(FieldName name, scoped ReadOnlySpan<char> value) => RequestHeadWriter.Header(output, name, value);

    public void Add(FieldName name, scoped ReadOnlySpan<byte> ascii)
    {
        name.Bytes.CopyTo(output.Line(name.Bytes.Length, ascii.Length, out var value));
        ascii.CopyTo(value);
    }

    /// <summary>
    /// The four lines as <see cref="ForwardedLines.WriteTo"/> writes them here. The first call with these values writes them as
    /// any field (each value checked as <see cref="RequestHeadWriter.Header(HeadBuffer, FieldName, ReadOnlySpan{char})"/>
    /// checks it: a CR, LF or NUL is refused, again for each call that brings it), and their bytes are kept on the object
    /// for the calls after (a connection's calls share one), which copy them.
    /// </summary>
    public void AddForwarded(ForwardedLines lines)
    {
        if (lines.Encoded is { } encoded)
        {
            output.Append(encoded);
            return;
        }

        var start = output.Count;
        var target = this;
        lines.WriteTo(ref target);
        lines.Encoded = output.Written[start..].ToArray();
    }

    public void AddValues(string name, StringValues values)
    {
        if (name.Length == 0 || name.AsSpan().ContainsAnyExcept(TokenChars) || (!hasContent && ResponseFieldNames.IsContent(name)))
        {
            return;
        }

        if (values.Count == 1)
        {
            RequestHeadWriter.Header(output, name, values[0]);
            return;
        }

        var separator = SeparatorOf(name);
        RequestHeadWriter.Refuse(name, values);
        output.AppendLatin1(name);
        output.Append(": "u8);
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0)
            {
                output.AppendLatin1(separator);
            }

            output.AppendLatin1(values[i]);
        }

        output.Append("\r\n"u8);
    }

    public void AddLine(scoped ReadOnlySpan<char> name, scoped ReadOnlySpan<byte> nameBytes, scoped ReadOnlySpan<byte> value)
    {
        // A head's line has a token for its name: HeadFields.TryRead takes no other (checked again here only when empty).
        if (name.IsEmpty || (!hasContent && ResponseFieldNames.IsContent(name)))
        {
            return;
        }

        if (value.IndexOfAny((byte)'\r', (byte)'\n', (byte)'\0') >= 0)
        {
            RequestHeadWriter.Header(output, name.ToString(), "\r"); // refused as a value of Kestrel's would be
        }

        // The name's bytes as they came: its characters are these, widened.
        nameBytes.CopyTo(output.Line(nameBytes.Length, value.Length, out var valueBytes));
        value.CopyTo(valueBytes);
    }

    // As HeaderStringValues.ToString joins a header's values: its parser's separator, a space between User-Agent's
    // products, "; " between cookies (RFC 6265 section 5.4), else ", " (ForwardedHeadTests compares them with the runtime's).
    private static string SeparatorOf(string name) =>
        name.Equals("User-Agent", StringComparison.OrdinalIgnoreCase) ? " " :
        name.Equals("Cookie", StringComparison.OrdinalIgnoreCase) ? "; " : ", ";
}

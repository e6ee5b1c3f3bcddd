using System.Buffers;
using System.Text;
using Sidecar.Platform;

namespace Sidecar.Forwarding.Http1;

/// <summary>What <see cref="RequestHeadReader.TryRead"/> took from a request's first line, and whether the caller asked to close.</summary>
internal struct RequestLine
{
    /// <summary>One of <see cref="HttpMethods"/>' own strings, as Kestrel gives them.</summary>
    public string Method;

    /// <summary>The target as it came: Kestrel's raw target (origin form, or absolute form: <c>http://authority/path?query</c>).</summary>
    public string RawTarget;

    /// <summary>Where the path starts in <see cref="RawTarget"/>: 0 in origin form, after the authority in absolute form.</summary>
    public int PathStart;

    /// <summary>The caller sent <c>Connection: close</c>.</summary>
    public bool Close;

    /// <summary>The index of the one <c>Host</c> field among the head's fields.</summary>
    public int HostField;

    /// <summary>The absolute form's authority (<c>orders</c> of <c>http://orders/x</c>); empty in origin form.</summary>
    public readonly ReadOnlySpan<char> Authority =>
        PathStart > 0 ? RawTarget.AsSpan(RequestHeadReader.AbsolutePrefix.Length, PathStart - RequestHeadReader.AbsolutePrefix.Length) : default;
}

/// <summary>
/// The forwarding core's reader of request heads (docs/performance.md#the-exchange): it takes only the plainest
/// HTTP/1.1 request, one Kestrel reads the same way, and says no to everything else, which Kestrel's own parser
/// then reads (and refuses, where it must, with its own answers). The reader never answers: it takes or leaves.
/// </summary>
/// <remarks>
/// Taken: a bodiless <c>GET</c>, <c>HEAD</c>, <c>DELETE</c> or <c>OPTIONS</c> in origin form, or in absolute form
/// with <c>http://</c>, an authority of lower-case DNS labels with no port and a <c>Host</c> that is the same bytes
/// (Kestrel requires the same text of <c>Uri.Authority</c>, which lower-cases and drops a default port), <c>HTTP/1.1</c>,
/// lines ended by CRLF, a target of RFC 3986's path and query characters whose path has no percent sign and no
/// segment starting with a dot (Kestrel's decoded path is then the raw one), field names that are tokens, values of
/// visible Latin-1 characters, spaces and tabs, one <c>Host</c> of host characters, one <c>Connection</c>, only
/// <c>keep-alive</c> or <c>close</c>, within the agent's Kestrel limits (<see cref="KestrelLimits"/>: the request
/// line, the fields' total size, their count). Left to Kestrel: any <c>Content-Length</c>, <c>Transfer-Encoding</c>,
/// <c>Expect</c> or <c>Upgrade</c> (bodies, the smuggling defences and upgrades stay Kestrel's), and whatever else
/// the rules above do not take. <c>RequestHeadReaderTests</c> sends what the reader takes, and a fuzzer's requests,
/// to Kestrel set up as the agent's API listener, and compares what each read.
/// </remarks>
internal static class RequestHeadReader
{
    /// <summary>Kestrel's limits as the agent sets them: beyond them Kestrel answers, not the core.</summary>
    public const int MaxRequestLine = 8 * 1024;

    public const int MaxFieldsTotal = 32 * 1024;

    public const int MaxFieldCount = 100;

    // RFC 3986's pchar without pct-encoded, and '/': a path Kestrel leaves as it is.
    private static readonly SearchValues<byte> PathBytes =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/"u8);

    // A query's characters: pchar, '/' and '?', and '%' (Kestrel does not decode the query).
    private static readonly SearchValues<byte> QueryBytes =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?%"u8);

    // An absolute form's authority the reader takes: DNS labels in lower case, no port, no user info.
    private static readonly SearchValues<byte> AuthorityBytes = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-."u8);

    private static readonly SearchValues<byte> HostBytes =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:[]"u8);

    /// <summary>
    /// Reads <paramref name="head"/> (the request line to the blank line, its CRLFs included) into
    /// <paramref name="line"/> and <paramref name="fields"/>; false when the request is not one the core takes,
    /// whatever has been filled then.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> head, ref RequestLine line, HeadFields fields)
    {
        var lineEnd = head.IndexOf("\r\n"u8);
        if (lineEnd < 0 || !head.EndsWith("\r\n\r\n"u8) || lineEnd + 2 > MaxRequestLine || !TryReadRequestLine(head[..lineEnd], ref line))
        {
            return false;
        }

        var block = head[(lineEnd + 2)..];
        if (block.Length > MaxFieldsTotal || !fields.TryRead(block) || fields.Count > MaxFieldCount || fields.HasControl)
        {
            return false;
        }

        line.Close = false;
        var hosts = 0;
        var connections = 0;
        for (var i = 0; i < fields.Count; i++)
        {
            var name = fields.NameOf(i);
            if (name.Length is not (4 or 6 or 7 or 10 or 14 or 17))
            {
                continue; // not the length of a name below (Host, Expect, Upgrade, Connection, Content-Length, Transfer-Encoding)
            }

            var value = fields.ValueBytes(i);
            if (IsLeftToKestrel(name))
            {
                return false;
            }

            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                if (++hosts > 1 || value.IsEmpty || value.ContainsAnyExcept(HostBytes) ||
                    (line.PathStart > 0 && !Ascii.Equals(value, line.Authority)))
                {
                    return false;
                }

                line.HostField = i;
            }
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                // One line: Kestrel keeps one value of two "close" lines.
                if (++connections > 1)
                {
                    return false;
                }

                if (Ascii.EqualsIgnoreCase(value, "close"u8))
                {
                    line.Close = true;
                }
                else if (!Ascii.EqualsIgnoreCase(value, "keep-alive"u8))
                {
                    return false;
                }
            }
        }

        return hosts == 1;
    }

    private static bool TryReadRequestLine(ReadOnlySpan<byte> text, ref RequestLine line)
    {
        string method;
        if (text.StartsWith("GET "u8))
        {
            method = HttpMethods.Get;
        }
        else if (text.StartsWith("HEAD "u8))
        {
            method = HttpMethods.Head;
        }
        else if (text.StartsWith("DELETE "u8))
        {
            method = HttpMethods.Delete;
        }
        else if (text.StartsWith("OPTIONS "u8))
        {
            method = HttpMethods.Options;
        }
        else
        {
            return false;
        }

        var target = text[(method.Length + 1)..];
        if (!target.EndsWith(" HTTP/1.1"u8))
        {
            return false;
        }

        target = target[..^" HTTP/1.1".Length];
        var pathStart = 0;
        if (target.StartsWith("http://"u8))
        {
            // The absolute form (a forward proxy's client): the authority names a service; the rest is read as an origin form.
            var authority = target[AbsolutePrefix.Length..];
            var slash = authority.IndexOf((byte)'/');
            if (slash <= 0 || !IsLabels(authority[..slash]))
            {
                return false;
            }

            pathStart = AbsolutePrefix.Length + slash;
        }

        var origin = target[pathStart..];
        if (origin.IsEmpty || origin[0] != (byte)'/')
        {
            return false;
        }

        var question = origin.IndexOf((byte)'?');
        var path = question < 0 ? origin : origin[..question];
        if (path.ContainsAnyExcept(PathBytes) || path.IndexOf("/."u8) >= 0 ||
            (question >= 0 && origin[(question + 1)..].ContainsAnyExcept(QueryBytes)))
        {
            return false;
        }

        line.Method = method;
        line.PathStart = pathStart;
        if (line.RawTarget is not { } previous || !Ascii.Equals(target, previous))
        {
            // A new string only for a new target: a connection's calls often repeat theirs (Kestrel keeps it the same way).
            line.RawTarget = Encoding.ASCII.GetString(target);
        }

        return true;
    }

    /// <summary>The one scheme the reader takes in absolute form.</summary>
    internal const string AbsolutePrefix = "http://";

    // Lower-case DNS labels: letters, digits and inner hyphens, separated by single dots.
    private static bool IsLabels(ReadOnlySpan<byte> authority)
    {
        if (authority.ContainsAnyExcept(AuthorityBytes))
        {
            return false;
        }

        foreach (var range in authority.Split((byte)'.'))
        {
            var label = authority[range];
            if (label.IsEmpty || label.Length > 63 || label[0] == (byte)'-' || label[^1] == (byte)'-')
            {
                return false;
            }
        }

        return true;
    }

    // A body (its framing is Kestrel's to check), an expectation of 100-continue, a protocol switch.
    private static bool IsLeftToKestrel(ReadOnlySpan<char> name) =>
        name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Expect", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase);
}

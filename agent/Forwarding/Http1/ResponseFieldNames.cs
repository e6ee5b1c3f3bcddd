using System.Collections.Frozen;
using System.Text;

namespace Sidecar.Forwarding.Http1;

/// <summary>
/// The names of an answer's fields as <see cref="System.Net.Http.Headers.HttpHeaders"/> spells and files them
/// (docs/performance.md#the-lean-http11-upstream-client): a name it knows takes its casing (one string, made
/// once), and the content headers are the ones it keeps in <c>Content.Headers</c>. The lean response keeps
/// its fields without those collections (<see cref="LeanResponse"/>) and its copy orders and groups them
/// as the collections did; a test checks this table against HttpHeaders' own known names.
/// </summary>
internal static class ResponseFieldNames
{
    // The headers most answers carry, compared as bytes before anything is allocated.
    private static readonly (string Name, bool Content)[] Common =
    [
        ("Content-Type", true), ("Content-Length", true), ("Date", false), ("Server", false), ("Connection", false),
        ("Transfer-Encoding", false), ("Keep-Alive", false), ("Cache-Control", false), ("ETag", false),
        ("Last-Modified", true), ("Vary", false), ("Location", false), ("Set-Cookie", false), ("Expires", true),
        ("Accept-Ranges", false), ("Content-Encoding", true), ("X-Powered-By", false),
        ("Access-Control-Allow-Origin", false), ("Age", false), ("Pragma", false), ("Retry-After", false),
    ];

    // The common names by their length: a name is compared only with those of its length (an answer's 8 or so fields each call).
    private static readonly (string Name, bool Content)[][] CommonByLength = ByLength(Common, static common => common.Name);

    // What HttpHeaders files in Content.Headers (an HttpContent's headers).
    private static readonly string[] ContentNames =
    [
        "Allow", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length", "Content-Location",
        "Content-MD5", "Content-Range", "Content-Type", "Expires", "Last-Modified",
    ];

    private static readonly string[][] ContentByLength = ByLength(ContentNames, static name => name);

    // Every other name HttpHeaders knows (System.Net.Http's KnownHeaders, .NET 10), with its casing.
    private static readonly string[] OtherNames =
    [
        "Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Patch", "Access-Control-Allow-Credentials",
        "Access-Control-Allow-Headers", "Access-Control-Allow-Methods", "Access-Control-Expose-Headers", "Access-Control-Max-Age",
        "Alt-Svc", "Alt-Used", "Authorization", "Content-Security-Policy", "Cookie", "Cookie2", "Cross-Origin-Resource-Policy",
        "Expect", "Expect-CT", "From", "Host", "If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
        "Link", "Max-Forwards", "Origin", "P3P", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Proxy-Support",
        "Public-Key-Pins", "Range", "Referer", "Referrer-Policy", "Refresh", "Sec-WebSocket-Accept", "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Key", "Sec-WebSocket-Protocol", "Sec-WebSocket-Version", "Server-Timing", "Set-Cookie2",
        "Strict-Transport-Security", "TE", "TSV", "Timing-Allow-Origin", "Trailer", "Upgrade", "Upgrade-Insecure-Requests",
        "User-Agent", "Via", "WWW-Authenticate", "Warning", "X-AspNet-Version", "X-Cache", "X-Content-Duration",
        "X-Content-Type-Options", "X-Frame-Options", "X-MSEdge-Ref", "X-Request-ID", "X-Served-By", "X-UA-Compatible",
        "X-XSS-Protection", "grpc-encoding", "grpc-message", "grpc-status",
    ];

    private static readonly FrozenDictionary<string, (string Name, bool Content)> Known = Build();

    private static readonly FrozenDictionary<string, (string Name, bool Content)>.AlternateLookup<ReadOnlySpan<char>> KnownBySpan =
        Known.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Every name in the table (a test compares it with HttpHeaders').</summary>
    internal static IEnumerable<string> All => Known.Keys;

    /// <summary>
    /// The name of a field as HttpHeaders keeps it (its casing when it knows the name), whether it is a content
    /// header, and whether HttpHeaders knows it: a known name is always the same string, so two known names
    /// are the same name only when they are the same string.
    /// </summary>
    /// <param name="name">The name as read: a token (ASCII).</param>
    public static (string Name, bool Content, bool Known) Of(ReadOnlySpan<byte> name)
    {
        if (name.Length < CommonByLength.Length)
        {
            foreach (var common in CommonByLength[name.Length])
            {
                if (Ascii.EqualsIgnoreCase(name, common.Name))
                {
                    return (common.Name, common.Content, true);
                }
            }
        }

        if (name.Length <= 64)
        {
            Span<char> chars = stackalloc char[name.Length];
            Ascii.ToUtf16(name, chars, out _);
            if (KnownBySpan.TryGetValue(chars, out var known))
            {
                return (known.Name, known.Content, true);
            }

            return (new string(chars), false, false);
        }

        return (Encoding.ASCII.GetString(name), false, false);
    }

    /// <summary>Whether HttpHeaders files <paramref name="name"/> with the content (<c>Content-Type</c>, <c>Expires</c>...), not with the message.</summary>
    public static bool IsContent(string name) => Known.TryGetValue(name, out var known) && known.Content;

    /// <inheritdoc cref="IsContent(string)"/>
    public static bool IsContent(ReadOnlySpan<char> name)
    {
        if (name.Length >= ContentByLength.Length)
        {
            return false;
        }

        // Compared with the content names of its length (none for most: User-Agent, Host, Accept-Encoding...), no table
        // lookup, which a cold table makes costly: a caller's Content-Type (hey sends one) on every call.
        foreach (var content in ContentByLength[name.Length])
        {
            if (name.Equals(content, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static T[][] ByLength<T>(T[] names, Func<T, string> name)
    {
        var byLength = new T[names.Max(n => name(n).Length) + 1][];
        for (var length = 0; length < byLength.Length; length++)
        {
            byLength[length] = [.. names.Where(n => name(n).Length == length)];
        }

        return byLength;
    }

    private static FrozenDictionary<string, (string Name, bool Content)> Build()
    {
        var known = new Dictionary<string, (string Name, bool Content)>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in OtherNames)
        {
            known[name] = (name, false);
        }

        foreach (var name in ContentNames)
        {
            known[name] = (name, true);
        }

        foreach (var common in Common)
        {
            known[common.Name] = common;
        }

        return known.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }
}

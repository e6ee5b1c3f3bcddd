using Microsoft.Extensions.Primitives;
using Sidecar.Observability;

namespace Sidecar.Forwarding;

/// <summary>The X-Forwarded-* and trace values of one call, computed once for all its attempts.</summary>
/// <param name="TraceParent">The trace the instance sees (W3C form, whatever the formats written); null when no propagation is configured.</param>
/// <param name="TraceCreated">True when the agent started the trace without recording it (no caller trace, tracing off).</param>
/// <param name="Formats">The trace header formats written (<c>OTEL_PROPAGATORS</c>).</param>
/// <param name="Remote">The caller's address as this hop saw it (<c>unknown</c> when there is none).</param>
internal sealed record ForwardedValues(string For, string Proto, string? Host, string? TraceParent, string? TraceState, string Via,
    bool TraceCreated = false, Propagators Formats = Propagators.TraceContext, string Remote = "unknown");

/// <summary>
/// Header rules of a proxy (RFC 9110 section 7.6.1): hop-by-hop headers (Connection and the headers it
/// names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) are dropped both ways; Host
/// becomes the instance's; <c>X-Forwarded-For</c> is appended to, <c>X-Forwarded-Proto/-Host</c> are
/// set; <c>Via</c> gets this agent's entry appended (RFC 9110 section 7.6.3); the trace is passed on
/// when valid and created when absent, in the formats of <c>OTEL_PROPAGATORS</c> (<see cref="TracePropagation"/>).
/// The other client-address headers follow the same rule, only when the caller sent them: <c>Forwarded</c>
/// (RFC 7239) gets this hop appended, <c>X-Real-IP</c> is replaced by the address the agent saw
/// (docs/forwarding.md#bodies-and-headers): an instance never reads a client address the caller made up
/// as the agent's word.
/// </summary>
internal static class ProxyHeaders
{
    // C0 controls but HTAB, and DEL: RFC 9110 section 5.5 allows none of them in a field value.
    private static readonly System.Buffers.SearchValues<char> ControlCharacters = System.Buffers.SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000a\u000b\u000c\u000d\u000e\u000f" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\u007f");

    /// <param name="context">The caller's request.</param>
    /// <param name="via">This agent's <c>Via</c> entry (<c>1.1 {pseudonym}</c>), appended to the caller's.</param>
    /// <param name="span">The agent's own span when tracing is on: its id is the parent the instance sees.</param>
    /// <param name="formats">The trace header formats read and written (<c>OTEL_PROPAGATORS</c>).</param>
    public static ForwardedValues ForwardedValues(HttpContext context, string via, System.Diagnostics.Activity? span = null, Propagators formats = Propagators.TraceContext)
    {
        var headers = context.Request.Headers;
        var remote = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var previous = headers["X-Forwarded-For"];
        var forwardedFor = previous.Count == 0 ? remote : $"{string.Join(", ", (IEnumerable<string?>)previous)}, {remote}";

        string? traceState = null;
        string? parent = null;
        var created = false;
        if (span?.Id is { } spanId)
        {
            parent = spanId;
            traceState = span.TraceStateString;
        }
        else if (formats != Propagators.None && formats != Propagators.Baggage)
        {
            (parent, traceState) = TracePropagation.Extract(headers, formats);
            if (parent is null)
            {
                // Absent or malformed: a new trace, and an orphan tracestate is dropped (W3C Trace Context 3.3).
                parent = Platform.TraceParent.Create();
                created = true;
            }
        }

        // Usually no Via arrives: the entry made once by the forwarder is sent as is.
        var previousVia = headers.Via;
        var viaValue = previousVia.Count == 0 ? via : $"{string.Join(", ", (IEnumerable<string?>)previousVia)}, {via}";

        var host = context.Request.Host;
        return new ForwardedValues(forwardedFor, context.Request.Scheme, host.HasValue ? host.Value : null, parent, traceState, viaValue, created, formats, remote);
    }

    /// <summary>
    /// The check of the caller's headers alone (the head is written per attempt, after an instance is picked):
    /// the first forwarded header whose value holds a control character other than HTAB, and that character,
    /// or null. The caller refuses such a request before any instance is picked.
    /// </summary>
    public static (string Name, char Character)? FindControlCharacter(HttpContext context)
    {
        var headers = context.Request.Headers;
        var connection = headers.Connection;
        foreach (var header in headers)
        {
            if (!IsHopByHop(header.Key) && !IsNamedBy(connection, header.Key) && ControlCharacterOf(header.Value) is { } at)
            {
                return (header.Key, at);
            }
        }

        return null;
    }

    /// <summary>
    /// Copies the caller's headers onto an attempt (<paramref name="request"/>'s content, when it has one,
    /// takes the content headers) with the proxy's rules, in the one pass over them the forwarder makes;
    /// the trace headers are the attempt's (<see cref="InjectTrace(HttpRequestMessage, ForwardedValues, System.Diagnostics.Activity?)"/>).
    /// Returns the first header whose value holds a control character other than HTAB, and that character,
    /// or null: the caller refuses such a request (the copy is then incomplete).
    /// </summary>
    /// <param name="context">The caller's request.</param>
    /// <param name="request">The attempt's request to the instance.</param>
    /// <param name="forwarded">The call's values.</param>
    public static (string Name, char Character)? CopyRequestHeaders(HttpContext context, HttpRequestMessage request, ForwardedValues forwarded)
    {
        var target = new MessageHeaders(request);
        return CopyRequestHeaders(context, ref target, forwarded, check: true);
    }

    /// <summary>
    /// The proxy's rules over the caller's headers, written to <paramref name="target"/>: a request message's
    /// headers, or the lean client's head written straight from Kestrel's collection (docs/performance.md#the-request-head-from-kestrels-headers).
    /// With <paramref name="check"/>, stops at the first value with a control character and returns it (see
    /// <see cref="FindControlCharacter"/>); without, the caller checked them already.
    /// </summary>
    public static (string Name, char Character)? CopyRequestHeaders<T>(HttpContext context, ref T target, ForwardedValues forwarded, bool check)
        where T : struct, IHeaderTarget
    {
        var headers = context.Request.Headers;
        var connection = headers.Connection;
        foreach (var header in headers)
        {
            var name = header.Key;
            if (IsHopByHop(name) || IsNamedBy(connection, name))
            {
                continue;
            }

            var values = header.Value;

            // Kestrel refuses CR, LF and NUL; HttpClient would send the other control characters as they are.
            if (check && ControlCharacterOf(values) is { } at)
            {
                return (name, at);
            }

            if (IsReplacedOnRequest(name))
            {
                // The rare client-address headers the caller sent: this hop is appended, or the address replaced.
                if (name.Equals("Forwarded", StringComparison.OrdinalIgnoreCase))
                {
                    target.Add("Forwarded", $"{string.Join(", ", (IEnumerable<string?>)values)}, {ForwardedHop(context, forwarded)}");
                }
                else if (name.Equals("X-Real-IP", StringComparison.OrdinalIgnoreCase))
                {
                    target.Add("X-Real-IP", forwarded.Remote);
                }

                continue;
            }

            if (!TracePropagation.IsReplaced(name, forwarded.Formats))
            {
                target.AddValues(name, values);
            }
        }

        target.Add("X-Forwarded-For", forwarded.For);
        target.Add("X-Forwarded-Proto", forwarded.Proto);
        if (forwarded.Host is not null)
        {
            target.Add("X-Forwarded-Host", forwarded.Host);
        }

        target.Add("Via", forwarded.Via);
        return null;
    }

    /// <summary>The trace headers of an attempt, in the formats of <c>OTEL_PROPAGATORS</c>.</summary>
    /// <param name="request">The attempt's request to the instance.</param>
    /// <param name="forwarded">The call's values.</param>
    /// <param name="attempt">The attempt's own span when tracing is on: the instance sees it as its parent.</param>
    public static void InjectTrace(HttpRequestMessage request, ForwardedValues forwarded, System.Diagnostics.Activity? attempt)
    {
        var target = new MessageHeaders(request);
        InjectTrace(ref target, forwarded, attempt);
    }

    /// <inheritdoc cref="InjectTrace(HttpRequestMessage, ForwardedValues, System.Diagnostics.Activity?)"/>
    public static void InjectTrace<T>(ref T target, ForwardedValues forwarded, System.Diagnostics.Activity? attempt)
        where T : struct, IHeaderTarget
    {
        if (attempt?.Id is { } attemptId)
        {
            TracePropagation.Inject(ref target, forwarded.Formats, attemptId, attempt.TraceStateString);
        }
        else if (forwarded.TraceParent is { } traceParent)
        {
            TracePropagation.Inject(ref target, forwarded.Formats, traceParent, forwarded.TraceState, forwarded.TraceCreated);
        }
    }

    private static char? ControlCharacterOf(StringValues values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            var text = values[i].AsSpan();
            if (text.IndexOfAny(ControlCharacters) is var at and >= 0)
            {
                return text[at];
            }
        }

        return null;
    }

    // RFC 7239: for=127.0.0.1;host="127.0.0.1:8078";proto=http
    private static string ForwardedHop(HttpContext context, ForwardedValues forwarded) =>
        $"for={ForwardedNode(context.Connection.RemoteIpAddress)}" + (forwarded.Host is null ? "" : $";host={Token(forwarded.Host)}") + $";proto={forwarded.Proto}";

    // RFC 7239 section 6: an IPv6 node is bracketed and quoted; an unknown one is "unknown".
    private static string ForwardedNode(System.Net.IPAddress? address) => address switch
    {
        null => "unknown",
        { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } when !address.IsIPv4MappedToIPv6 => $"\"[{address}]\"",
        _ => (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString(),
    };

    // A token as it is, anything else as a quoted-string (RFC 7239 section 4): "127.0.0.1:8078" has a colon.
    private static string Token(string value)
    {
        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal)))
            {
                return "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
            }
        }

        return value;
    }

    public static void CopyResponseHeaders(HttpResponseMessage response, IHeaderDictionary target)
    {
        response.Headers.NonValidated.TryGetValues("Connection", out var connection);
        foreach (var header in response.Headers.NonValidated)
        {
            Copy(header.Key, header.Value, connection, target);
        }

        foreach (var header in response.Content.Headers.NonValidated)
        {
            Copy(header.Key, header.Value, connection, target);
        }
    }

    private static void Copy(string name, System.Net.Http.Headers.HeaderStringValues values, System.Net.Http.Headers.HeaderStringValues connection, IHeaderDictionary target)
    {
        if (IsHopByHop(name) || IsNamedBy(connection, name))
        {
            return;
        }

        try
        {
            if (values.Count == 1)
            {
                target[name] = values.ToString();
                return;
            }

            var array = new string[values.Count];
            var i = 0;
            foreach (var value in values)
            {
                array[i++] = value;
            }

            target[name] = array;
        }
        catch (InvalidOperationException)
        {
            // Kestrel refuses a value with a control character (the instance sent "a\u0001b"): that header is
            // dropped, the rest of the answer goes on. Nothing is logged: an instance could flood the log.
        }
    }

    /// <summary>The headers that concern one connection only and must not be forwarded (RFC 9110 section 7.6.1).</summary>
    public static bool IsHopByHop(string name) =>
        name.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Connection", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("TE", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Trailer", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase);

    // Set by the forwarder itself, or meaningless upstream: Host is the instance's, the body length
    // is the content's, Expect was answered by Kestrel already, HTTP/2 pseudo-headers have no HTTP/1.1 form.
    private static bool IsReplacedOnRequest(string name) =>
        name.Length == 0 || name[0] == ':' ||
        name.Equals("Host", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Expect", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("X-Forwarded-For", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("X-Forwarded-Proto", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("X-Forwarded-Host", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Forwarded", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("X-Real-IP", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("Via", StringComparison.OrdinalIgnoreCase);

    private static bool IsNamedBy(StringValues connection, string name)
    {
        for (var i = 0; i < connection.Count; i++)
        {
            if (ListContains(connection[i], name))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsNamedBy(System.Net.Http.Headers.HeaderStringValues connection, string name)
    {
        foreach (var value in connection)
        {
            if (ListContains(value, name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a comma-separated list (a <c>Connection</c> value) holds <paramref name="name"/>, each entry trimmed, compared ignoring case.</summary>
    internal static bool ListContains(string? list, string name)
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

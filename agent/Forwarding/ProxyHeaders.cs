using Microsoft.Extensions.Primitives;
using Sidecar.Observability;
using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>The X-Forwarded-* and trace values of one call, computed once for all its attempts.</summary>
/// <param name="Lines">The four fields this hop adds (<c>X-Forwarded-For</c>, <c>-Proto</c>, <c>-Host</c>, <c>Via</c>).</param>
/// <param name="TraceParent">The trace the instance sees (W3C form, whatever the formats written); null when no propagation is configured.</param>
/// <param name="Formats">The trace header formats written (<c>OTEL_PROPAGATORS</c>).</param>
/// <param name="Remote">The caller's address as this hop saw it, if any.</param>
internal sealed record ForwardedValues(ForwardedLines Lines, string? TraceParent, string? TraceState,
    Propagators Formats = Propagators.TraceContext, System.Net.IPAddress? Remote = null)
{
    private string? _traceParent = TraceParent;

    /// <summary>The caller's <c>X-Forwarded-For</c> with the caller's address appended.</summary>
    public string For => Lines.For;

    /// <summary>The scheme the caller used.</summary>
    public string Proto => Lines.Proto;

    /// <summary>The caller's <c>Host</c>, if any.</summary>
    public string? Host => Lines.Host;

    /// <summary>The caller's <c>Via</c> with this agent's entry appended.</summary>
    public string Via => Lines.Via;

    /// <summary>The trace the agent started without recording it (no caller trace, tracing off): written into a head from its ids, no string made per call.</summary>
    public NewTrace? NewTrace { get; init; }

    /// <summary>True when the agent started the trace (<see cref="NewTrace"/>).</summary>
    public bool TraceCreated => NewTrace is not null;

    /// <summary>The trace the instance sees, as a string (made from <see cref="NewTrace"/> when first asked).</summary>
    public string? TraceParent
    {
        get => _traceParent ??= NewTrace?.ToString();
        init => _traceParent = value;
    }
}

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
    private static readonly FieldName Forwarded = new("Forwarded");
    private static readonly FieldName XRealIp = new("X-Real-IP");

    /// <param name="context">The caller's request.</param>
    /// <param name="via">This agent's <c>Via</c> entry (<c>1.1 {pseudonym}</c>), appended to the caller's.</param>
    /// <param name="span">The agent's own span when tracing is on: its id is the parent the instance sees.</param>
    /// <param name="formats">The trace header formats read and written (<c>OTEL_PROPAGATORS</c>).</param>
    /// <param name="previous">The last call's added fields on the same connection, taken again when this call's are the same.</param>
    public static ForwardedValues ForwardedValues(HttpContext context, string via, System.Diagnostics.Activity? span = null, Propagators formats = Propagators.TraceContext,
        ForwardedLines? previous = null)
    {
        var host = context.Request.Host;
        return ForwardedValues(new CallerFields(context.Request.Headers), context.Connection.RemoteIpAddress, context.Request.Scheme, host.HasValue ? host.Value : null, via, span, formats, previous);
    }

    /// <param name="fields">The caller's fields.</param>
    /// <param name="remote">The caller's address as this hop saw it, if any.</param>
    /// <param name="scheme">The scheme the caller used (<c>http</c>).</param>
    /// <param name="host">The caller's <c>Host</c>, if any.</param>
    /// <param name="via">This agent's <c>Via</c> entry (<c>1.1 {pseudonym}</c>), appended to the caller's.</param>
    /// <param name="span">The agent's own span when tracing is on: its id is the parent the instance sees.</param>
    /// <param name="formats">The trace header formats read and written (<c>OTEL_PROPAGATORS</c>).</param>
    /// <param name="previous">The last call's added fields on the same connection, taken again when this call's are the same.</param>
    public static ForwardedValues ForwardedValues(CallerFields fields, System.Net.IPAddress? remote, string scheme, string? host, string via,
        System.Diagnostics.Activity? span = null, Propagators formats = Propagators.TraceContext, ForwardedLines? previous = null)
    {
        var address = remote?.ToString() ?? "unknown";
        var previousFor = fields["X-Forwarded-For"];
        var forwardedFor = previousFor.Count == 0 ? address : $"{string.Join(", ", (IEnumerable<string?>)previousFor)}, {address}";

        string? traceState = null;
        string? parent = null;
        NewTrace? newTrace = null;
        if (span?.Id is { } spanId)
        {
            parent = spanId;
            traceState = span.TraceStateString;
        }
        else if (formats != Propagators.None && formats != Propagators.Baggage)
        {
            (parent, traceState) = TracePropagation.Extract(fields, formats);
            if (parent is null)
            {
                // Absent or malformed: a new trace, and an orphan tracestate is dropped (W3C Trace Context 3.3).
                newTrace = NewTrace.Create();
            }
        }

        // Usually no Via arrives: the entry made once by the forwarder is sent as is.
        var previousVia = fields.Via;
        var viaValue = previousVia.Count == 0 ? via : $"{string.Join(", ", (IEnumerable<string?>)previousVia)}, {via}";

        var lines = previous is not null && previous.Matches(forwardedFor, scheme, host, viaValue) ? previous : new ForwardedLines(forwardedFor, scheme, host, viaValue);
        return new ForwardedValues(lines, parent, traceState, formats, remote) { NewTrace = newTrace };
    }

    /// <summary>
    /// The check of the caller's headers alone (the head is written per attempt, after an instance is picked):
    /// the first forwarded header whose value holds a control character other than HTAB, and that character,
    /// or null. The caller refuses such a request before any instance is picked.
    /// </summary>
    public static (string Name, char Character)? FindControlCharacter(HttpContext context) => FindControlCharacter(new CallerFields(context.Request.Headers));

    /// <inheritdoc cref="FindControlCharacter(HttpContext)"/>
    public static (string Name, char Character)? FindControlCharacter(CallerFields fields)
    {
        var connection = fields.HasConnection;
        foreach (var field in fields)
        {
            if (FieldNames.Classify(field.Name) != FieldKind.HopByHop && !(connection && fields.ConnectionNames(field.Name)) && field.ControlCharacter() is { } at)
            {
                return (field.NameString, at);
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
        return CopyRequestHeaders(new CallerFields(context.Request.Headers), ref target, forwarded, check: true);
    }

    /// <summary>
    /// The proxy's rules over the caller's headers, written to <paramref name="target"/>: a request message's
    /// headers, or the lean client's head written straight from the caller's fields (docs/performance.md#the-request-head-from-kestrels-headers).
    /// With <paramref name="check"/>, stops at the first value with a control character and returns it (see
    /// <see cref="FindControlCharacter(CallerFields)"/>); without, the caller checked them already.
    /// </summary>
    public static (string Name, char Character)? CopyRequestHeaders<T>(CallerFields fields, ref T target, ForwardedValues forwarded, bool check)
        where T : struct, IHeaderTarget
    {
        var connection = fields.HasConnection;
        var addressesDone = false;
        foreach (var field in fields)
        {
            var kind = FieldNames.Classify(field.Name);
            if (kind == FieldKind.HopByHop || (connection && fields.ConnectionNames(field.Name)))
            {
                continue;
            }

            // Kestrel refuses CR, LF and NUL; HttpClient would send the other control characters as they are.
            if (check && field.ControlCharacter() is { } at)
            {
                return (field.NameString, at);
            }

            switch (kind)
            {
                case FieldKind.Replaced:
                    break;
                case FieldKind.Forwarded or FieldKind.RealIp:
                    // The rare client-address headers the caller sent: this hop is appended, or the address replaced,
                    // once for all their lines.
                    if (!addressesDone)
                    {
                        addressesDone = true;
                        AddClientAddresses(fields, ref target, forwarded);
                    }

                    break;
                default:
                    if (!FieldNames.IsTraceReplaced(kind, forwarded.Formats))
                    {
                        field.CopyTo(ref target);
                    }

                    break;
            }
        }

        target.AddForwarded(forwarded.Lines);
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
        else if (forwarded.NewTrace is { } created)
        {
            TracePropagation.Inject(ref target, forwarded.Formats, created);
        }
        else if (forwarded.TraceParent is { } traceParent)
        {
            TracePropagation.Inject(ref target, forwarded.Formats, traceParent, forwarded.TraceState, forwarded.TraceCreated);
        }
    }

    private static void AddClientAddresses<T>(CallerFields fields, ref T target, ForwardedValues forwarded)
        where T : struct, IHeaderTarget
    {
        if (fields["Forwarded"] is { Count: > 0 } previous)
        {
            target.Add(Forwarded, $"{string.Join(", ", (IEnumerable<string?>)previous)}, {ForwardedHop(forwarded)}");
        }

        if (fields["X-Real-IP"].Count > 0)
        {
            target.Add(XRealIp, forwarded.Remote?.ToString() ?? "unknown");
        }
    }

    // RFC 7239: for=127.0.0.1;host="127.0.0.1:8078";proto=http
    private static string ForwardedHop(ForwardedValues forwarded) =>
        $"for={ForwardedNode(forwarded.Remote)}" + (forwarded.Host is null ? "" : $";host={Token(forwarded.Host)}") + $";proto={forwarded.Proto}";

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
        var kestrel = new KestrelAnswer(target);
        CopyResponseHeaders(response, ref kestrel);
    }

    /// <summary>An answer's headers from HttpHeaders' collections to <paramref name="target"/> with the proxy's rules: hop-by-hop ones and the ones its <c>Connection</c> names dropped.</summary>
    public static void CopyResponseHeaders<T>(HttpResponseMessage response, ref T target)
        where T : struct, IAnswerTarget
    {
        response.Headers.NonValidated.TryGetValues("Connection", out var connection);
        foreach (var header in response.Headers.NonValidated)
        {
            Copy(header.Key, header.Value, connection, ref target);
        }

        foreach (var header in response.Content.Headers.NonValidated)
        {
            Copy(header.Key, header.Value, connection, ref target);
        }
    }

    private static void Copy<T>(string name, System.Net.Http.Headers.HeaderStringValues values, System.Net.Http.Headers.HeaderStringValues connection, ref T target)
        where T : struct, IAnswerTarget
    {
        if (IsHopByHop(name) || IsNamedBy(connection, name))
        {
            return;
        }

        if (values.Count == 1)
        {
            target.Set(name, values.ToString());
            return;
        }

        var array = new string[values.Count];
        var i = 0;
        foreach (var value in values)
        {
            array[i++] = value;
        }

        target.Set(name, array);
    }

    /// <summary>The headers that concern one connection only and must not be forwarded (RFC 9110 section 7.6.1).</summary>
    public static bool IsHopByHop(string name) => FieldNames.Classify(name) == FieldKind.HopByHop;

    private static bool IsNamedBy(System.Net.Http.Headers.HeaderStringValues connection, string name)
    {
        foreach (var value in connection)
        {
            if (FieldLists.Contains(value, name))
            {
                return true;
            }
        }

        return false;
    }
}

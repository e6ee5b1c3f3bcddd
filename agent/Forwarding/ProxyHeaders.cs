using Microsoft.Extensions.Primitives;
using Sidecar.Observability;

namespace Sidecar.Forwarding;

/// <summary>The X-Forwarded-* and trace values of one call, computed once for all its attempts.</summary>
/// <param name="TraceParent">The trace the instance sees (W3C form, whatever the formats written); null when no propagation is configured.</param>
/// <param name="TraceCreated">True when the agent started the trace without recording it (no caller trace, tracing off).</param>
/// <param name="Formats">The trace header formats written (<c>OTEL_PROPAGATORS</c>).</param>
internal sealed record ForwardedValues(string For, string Proto, string? Host, string? TraceParent, string? TraceState, string Via,
    bool TraceCreated = false, Propagators Formats = Propagators.TraceContext);

/// <summary>
/// Header rules of a proxy (RFC 9110 section 7.6.1): hop-by-hop headers (Connection and the headers it
/// names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) are dropped both ways; Host
/// becomes the instance's; <c>X-Forwarded-For</c> is appended to, <c>X-Forwarded-Proto/-Host</c> are
/// set; <c>Via</c> gets this agent's entry appended (RFC 9110 section 7.6.3); the trace is passed on
/// when valid and created when absent, in the formats of <c>OTEL_PROPAGATORS</c> (<see cref="TracePropagation"/>).
/// </summary>
internal static class ProxyHeaders
{
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
                parent = Forwarding.TraceParent.Create();
                created = true;
            }
        }

        // Usually no Via arrives: the entry made once by the forwarder is sent as is.
        var previousVia = headers.Via;
        var viaValue = previousVia.Count == 0 ? via : $"{string.Join(", ", (IEnumerable<string?>)previousVia)}, {via}";

        var host = context.Request.Host;
        return new ForwardedValues(forwardedFor, context.Request.Scheme, host.HasValue ? host.Value : null, parent, traceState, viaValue, created, formats);
    }

    /// <param name="context">The caller's request.</param>
    /// <param name="request">The attempt's request to the instance.</param>
    /// <param name="forwarded">The call's values.</param>
    /// <param name="attempt">The attempt's own span when tracing is on: the instance sees it as its parent.</param>
    public static void CopyRequestHeaders(HttpContext context, HttpRequestMessage request, ForwardedValues forwarded, System.Diagnostics.Activity? attempt = null)
    {
        var headers = context.Request.Headers;
        var connection = headers.Connection;
        foreach (var header in headers)
        {
            var name = header.Key;
            if (IsHopByHop(name) || IsReplacedOnRequest(name) || TracePropagation.IsReplaced(name, forwarded.Formats) || IsNamedBy(connection, name))
            {
                continue;
            }

            var values = header.Value;
            if (values.Count == 1)
            {
                var value = values[0];
                if (!request.Headers.TryAddWithoutValidation(name, value))
                {
                    request.Content?.Headers.TryAddWithoutValidation(name, value);
                }
            }
            else if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        var target = request.Headers;
        target.TryAddWithoutValidation("X-Forwarded-For", forwarded.For);
        target.TryAddWithoutValidation("X-Forwarded-Proto", forwarded.Proto);
        if (forwarded.Host is not null)
        {
            target.TryAddWithoutValidation("X-Forwarded-Host", forwarded.Host);
        }

        target.TryAddWithoutValidation("Via", forwarded.Via);
        if (attempt?.Id is { } attemptId)
        {
            TracePropagation.Inject(target, forwarded.Formats, attemptId, attempt.TraceStateString);
        }
        else if (forwarded.TraceParent is { } traceParent)
        {
            TracePropagation.Inject(target, forwarded.Formats, traceParent, forwarded.TraceState, forwarded.TraceCreated);
        }
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

    private static bool ListContains(string? list, string name)
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

using System.Net;
using Microsoft.AspNetCore.Http.Features;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// The forward-proxy way in (docs/forwarding.md#ways-in): a client with <c>HTTP_PROXY=http://127.0.0.1:8078</c>
/// sends <c>GET http://orders/api/x</c> (absolute-form; Kestrel keeps it in
/// <see cref="IHttpRequestFeature.RawTarget"/> and has checked that Host matches it), and a client
/// whose DNS points a service name at the agent sends <c>Host: orders</c>. Both are forwarded like
/// <c>/v1/invoke/orders/api/x</c>. An absolute-form target naming anything else than a known
/// service or the agent itself is refused: the agent is never an open proxy. Requests addressed to
/// the agent (its own address and port) go on to its API. The public health listener never forwards.
/// Guards against a browser on the same machine being used against the API (docs/operations.md#listeners-and-security-defaults):
/// a request a browser makes for another page than the agent's own is refused, whether the browser says
/// so (<c>Sec-Fetch-Site: cross-site</c> or <c>same-site</c>: another port of 127.0.0.1 is the same site)
/// or only sends an <c>Origin</c> that is not the agent's (older browsers); apps send neither. On a
/// loopback API a Host that names neither the agent nor a known service is refused (a page that points
/// its own name at 127.0.0.1, DNS rebinding, would otherwise read <c>/v1/config</c> and call services),
/// and the Host form forwards single-label names only: a dotted service name (a VIP such as
/// <c>orders.internal</c>, or a public name someone registered) could be a rebinding page's own.
/// </summary>
internal sealed class ForwardProxyMiddleware(RequestDelegate next, Forwarder forwarder, SidecarOptions sidecar)
{
    private readonly bool _loopbackApi = IPAddress.IsLoopback(sidecar.BindAddress);

    public Task InvokeAsync(HttpContext context)
    {
        if (ListenerExtensions.IsPublicConnection(context))
        {
            return next(context);
        }

        // Services never send Sec-Fetch-* or Origin; browsers send Sec-Fetch-Site with every request (the
        // status page's own refresh is same-origin, an address typed in is none) and Origin with most.
        if (IsForeignBrowserRequest(context.Request))
        {
            return Problems.WriteAsync(context, StatusCodes.Status403Forbidden, ForwardingProblems.CrossSiteRequest, "Cross-site request",
                "The agent's API answers apps and its own pages only, not requests a browser makes for another page (another site, or another port of this host).");
        }

        // A tunnel is refused whatever the target's form: CONNECT /v1/invoke/orders/x would otherwise reach the
        // forwarder, which cannot send it (HttpClient refuses a CONNECT without an authority).
        if (HttpMethods.IsConnect(context.Request.Method))
        {
            return Problems.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, ForwardingProblems.TunnelNotSupported, "Tunnelling not supported",
                "The agent does not open tunnels (CONNECT); call http://{service}/... through it and let the instance's scheme apply.",
                allow: Forwarder.ForwardedMethods);
        }

        var raw = HttpFeatures.RawTarget(context);
        if (raw.Length > 0 && raw[0] == '/')
        {
            return ForwardIfHostIsAService(context, raw);
        }

        if (raw == "*")
        {
            return next(context); // OPTIONS * is about the agent itself
        }

        if (!TrySplitAbsolute(raw, out var authority, out var target))
        {
            return Problems.WriteAsync(context, StatusCodes.Status400BadRequest, ForwardingProblems.BadRequest, "Bad request",
                "The request target is neither a path nor an http:// URL.");
        }

        if (authority.Contains('@', StringComparison.Ordinal))
        {
            return Problems.WriteAsync(context, StatusCodes.Status400BadRequest, ForwardingProblems.BadRequest, "Bad request",
                "User info in the request target is not allowed.");
        }

        SplitHostPort(authority, raw.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? 443 : 80, out var host, out var port);
        if (IsAgentItself(context, host, port))
        {
            return next(context); // e.g. curl -x 127.0.0.1:8078 http://127.0.0.1:8078/ping: the API, never a loop
        }

        return forwarder.ForwardAsync(context, host.ToString(), target);
    }

    private Task ForwardIfHostIsAService(HttpContext context, string raw)
    {
        var hostValue = context.Request.Host.Value;
        if (string.IsNullOrEmpty(hostValue))
        {
            return next(context);
        }

        SplitHostPort(hostValue, 80, out var host, out _);

        // IP literals and localhost address the agent (127.0.0.1:8078, [::1], the bind address): its API.
        // A real parse, not the first character: 7f000001.rebind.example is a name (see the 421 below).
        if (host.Length == 0 || AddressesTheAgent(host))
        {
            return next(context);
        }

        var name = host.ToString();
        if (!name.Contains('.', StringComparison.Ordinal) && ForwardingOptions.IsServiceName(name) && forwarder.Pools.Find(name) is not null)
        {
            return forwarder.ForwardAsync(context, name, raw);
        }

        if (_loopbackApi && !host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return Problems.WriteAsync(context, StatusCodes.Status421MisdirectedRequest, ForwardingProblems.UnknownHost, "Unknown host",
                "This is the sidecar's API: call it as 127.0.0.1, [::1] or localhost, or name a known service in Host.");
        }

        return next(context);
    }

    /// <summary>
    /// True for a request a browser made for a page that is not the agent's: <c>Sec-Fetch-Site</c> other than
    /// <c>same-origin</c> or <c>none</c>, or an <c>Origin</c> other than this request's own scheme and Host
    /// (<c>null</c>, a sandboxed page's, included).
    /// </summary>
    private static bool IsForeignBrowserRequest(HttpRequest request)
    {
        var headers = request.Headers;
        var site = headers["Sec-Fetch-Site"];
        if (site.Count > 0 && !(site.Count == 1 &&
            (string.Equals(site[0], "same-origin", StringComparison.OrdinalIgnoreCase) || string.Equals(site[0], "none", StringComparison.OrdinalIgnoreCase))))
        {
            return true;
        }

        var origin = headers.Origin;
        if (origin.Count == 0)
        {
            return false;
        }

        // The page's origin must be what this request addresses: http://127.0.0.1:8078 for the API, http://orders for a proxied call.
        var value = origin.Count == 1 ? origin[0].AsSpan() : default;
        var scheme = request.Scheme;
        var host = request.Host.Value ?? "";
        return !(value.Length == scheme.Length + 3 + host.Length &&
                 value.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) &&
                 value[scheme.Length..].StartsWith("://", StringComparison.Ordinal) &&
                 value[(scheme.Length + 3)..].Equals(host, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary><c>http://authority/path?query</c> into the authority and the origin-form rest (<c>/</c> when empty).</summary>
    internal static bool TrySplitAbsolute(string raw, out string authority, out string target)
    {
        authority = "";
        target = "/";
        var scheme = raw.IndexOf("://", StringComparison.Ordinal);
        if (scheme <= 0)
        {
            return false;
        }

        var start = scheme + 3;
        var end = raw.AsSpan(start).IndexOfAny('/', '?');
        if (end < 0)
        {
            authority = raw[start..];
            return authority.Length > 0;
        }

        authority = raw.Substring(start, end);
        var rest = raw[(start + end)..];
        target = rest[0] == '?' ? "/" + rest : rest;
        return authority.Length > 0;
    }

    internal static void SplitHostPort(string authority, int defaultPort, out ReadOnlySpan<char> host, out int port)
    {
        var span = authority.AsSpan();
        port = defaultPort;
        var colon = span.LastIndexOf(':');
        var bracket = span.LastIndexOf(']');
        if (colon > bracket)
        {
            if (int.TryParse(span[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
            {
                port = parsed;
            }
            else
            {
                port = -1;
            }

            span = span[..colon];
        }

        host = span;
    }

    /// <summary>A Host naming the agent's API rather than a service: <c>localhost</c> or an IP literal (the forwarding core's test too).</summary>
    internal static bool AddressesTheAgent(ReadOnlySpan<char> host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || IsIpLiteral(host);

    // IsValid is TryParse's parser without the IPAddress it would allocate on every /v1/invoke call (Host: 127.0.0.1:8078).
    internal static bool IsIpLiteral(ReadOnlySpan<char> host) =>
        (char.IsAsciiDigit(host[0]) || host[0] == '[') &&
        IPAddress.IsValid(host[0] == '[' && host.Length > 1 && host[^1] == ']' ? host[1..^1] : host);

    private static bool IsAgentItself(HttpContext context, ReadOnlySpan<char> host, int port)
    {
        if (port != context.Connection.LocalPort)
        {
            return false;
        }

        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        var literal = host.Length > 1 && host[0] == '[' ? host[1..^1] : host;
        return IPAddress.TryParse(literal, out var address) &&
               (IPAddress.IsLoopback(address) || address.Equals(context.Connection.LocalIpAddress));
    }
}

using System.Globalization;
using System.Text;

namespace Sidecar.Tests.Reliability;

/// <summary>One generated request: its bytes, the same as text (Latin-1), whether it targets a forwarding route, a short summary.</summary>
internal sealed record FuzzedRequest(byte[] Bytes, string Text, bool Forwarded, string Summary);

/// <summary>
/// Generates HTTP/1.1 requests from a seeded <see cref="Random"/>: methods (known, unknown, broken),
/// targets (the agent's routes mutated with traversal, escapes, raw bytes, absolute and odd forms),
/// query strings, headers (garbage names and values, CR/LF, huge ones, the forwarder's own headers),
/// bodies (random bytes, JSON-ish, chunked, lengths that lie) and versions. The same seed always
/// gives the same requests, so a failure can be replayed.
/// </summary>
internal sealed class RequestFuzzer(Random random, IReadOnlyList<string> routes, int agentPort)
{
    // Each list in two parts: well-formed (the agent's own handlers judge them) and broken (Kestrel refuses them).
    private static readonly string[] Methods = ["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT", "PROPFIND", "FUZZ"];

    private static readonly string[] BrokenMethods = ["get", "G E T", "GET\0", "", "G(T"];

    private static readonly string[] PathPieces =
    [
        "/", "x", "api", "..", ".", "%2e%2e", "%2f", "%5c", "//", ";x=1", "%00", "%0d%0a", "%ff", "%c0%ae", "%", "%zz", "~", "orders", "v1", "invoke",
        "proxy", "config", "message", "health", "%252e%252e", "..;", "@", ":", "169.254.169.254", "localhost", "%20", "%u002e",
    ];

    private static readonly string[] BrokenPathPieces = ["\\", "\u00ff", "\u0001", " ", "#", "\u007f"];

    private static readonly string[] HeaderNames =
    [
        "X-Request-Timeout", "Idempotency-Key", "traceparent", "tracestate", "Content-Type", "Accept", "If-None-Match", "X-Forwarded-For",
        "Connection", "Upgrade", "Expect", "TE", "Proxy-Authorization", "Cookie", "Authorization", "Host", "Range", "X-Custom", "Keep-Alive", "Forwarded",
    ];

    private static readonly string[] BrokenHeaderNames = ["X\u00ffBad", "Bad Name", "", "X:Colon"];

    private static readonly string[] HeaderValues =
    [
        "1", "0", "-1", "2.5", "500ms", "1e308", "NaN", "abc", "*", "W/\"1\"", "\"1\"", "application/json", "text/html", "close", "keep-alive, Upgrade",
        "websocket", "100-continue", "trailers", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "00-zz", "bytes=0-1,2-3,-5",
        " leading", "trailing ", "\t", "=?utf-8?q?x?=", "for=\"_hidden\";proto=https",
    ];

    private static readonly string[] BrokenHeaderValues = ["\u00ff\u00fe", "a\rb", "a\nb", "a\0b"];

    private bool _broken;

    public FuzzedRequest Next()
    {
        // Half the requests are well-formed HTTP (they reach the agent's handlers), half carry something broken.
        _broken = random.Next(2) == 0;
        var method = Pick(Methods, BrokenMethods);
        var route = routes[random.Next(routes.Count)];
        var target = Target(route);
        var version = random.Next(_broken ? 10 : 20) switch
        {
            0 => "HTTP/1.0",
            1 when _broken => "HTTP/2.0",
            2 when _broken => "HTTP/1.1 ",
            3 when _broken => "",
            _ => "HTTP/1.1",
        };

        var builder = new StringBuilder();
        builder.Append(method).Append(' ').Append(target).Append(' ').Append(version).Append("\r\n");
        var host = random.Next(20) == 0 ? null : random.Next(10) == 0 ? Pick(["orders", "x", "127.0.0.1:" + agentPort, "[::1]", "a b", "evil@orders", ""]) : "127.0.0.1";
        if (host is not null)
        {
            builder.Append("Host: ").Append(host).Append("\r\n");
        }

        for (var i = random.Next(6); i > 0; i--)
        {
            builder.Append(Header()).Append("\r\n");
        }

        builder.Append("Connection: close\r\n");
        var body = Body(builder);
        builder.Append("\r\n").Append(body);
        var text = builder.ToString();
        var forwarded = route.StartsWith("/v1/invoke", StringComparison.Ordinal) || route.StartsWith("/proxy", StringComparison.Ordinal) ||
                        target.StartsWith("http", StringComparison.Ordinal) || host == "orders"; // Host: orders is a way in too
        var summary = text.Length <= 200 ? text : text[..200] + $"... ({text.Length} chars)";
        return new FuzzedRequest(Encoding.Latin1.GetBytes(text), text, forwarded, summary.Replace("\r\n", "\\r\\n", StringComparison.Ordinal));
    }

    private string Target(string route)
    {
        var target = new StringBuilder();
        switch (random.Next(12))
        {
            case 0:
                target.Append("http://").Append(Pick(["orders", "169.254.169.254", "127.0.0.1:" + agentPort, "localhost:5432", "unknown-service", "orders:99999", "[::1]"]));
                break;
            case 1 when _broken:
                return Pick(["*", "orders:443", "", "?", "#", "//"]);
            default:
                break;
        }

        target.Append(route == "/proxy" ? "/proxy?vip=" + Pick(["orders", "", "unknown", "%ff", "127.0.0.1:1"]) + "&path=" + Pick(["/x", "", "//evil", "%2F..%2F", "http://x/"]) : route);
        for (var i = random.Next(4); i > 0; i--)
        {
            target.Append(Pick(["/", ""])).Append(Pick(PathPieces, BrokenPathPieces));
        }

        if (random.Next(3) == 0)
        {
            target.Append(target.ToString().Contains('?', StringComparison.Ordinal) ? '&' : '?');
            for (var i = random.Next(1, 6); i > 0; i--)
            {
                target.Append(Pick(["id", "vip", "path", "appName", "prefix", "wait", "x", "", "%ff"])).Append('=').Append(Pick(PathPieces, BrokenPathPieces)).Append('&');
            }
        }

        if (random.Next(50) == 0)
        {
            target.Append('/').Append(new string('z', random.Next(100, 12_000)));
        }

        return target.ToString();
    }

    private string Header()
    {
        var name = Pick(HeaderNames, BrokenHeaderNames);
        var value = random.Next(30) == 0 ? new string('v', random.Next(1000, _broken ? 40_000 : 8_000)) : Pick(HeaderValues, BrokenHeaderValues);
        return _broken && random.Next(20) == 0 ? name + value : name + ": " + value; // sometimes no colon at all
    }

    private string Body(StringBuilder head)
    {
        var kind = random.Next(8);
        if (kind < 4)
        {
            return "";
        }

        var length = random.Next(10) == 0 ? random.Next(64 * 1024, 1_200_000) : random.Next(0, 2048);
        var body = kind switch
        {
            4 => RandomBytes(length),
            5 => "{\"status\":\"" + Pick(["UP", "OUT_OF_SERVICE", "DOWN", "\u00ff", ""]) + "\"" + new string(' ', Math.Min(length, 100)) + "}",
            6 => new string('[', Math.Min(length, 5000)),
            _ => new string('b', length),
        };

        var choice = random.Next(10);
        switch (!_broken && choice is 1 or 2 ? 3 : choice)
        {
            case 0:
                // chunked, well formed
                head.Append("Transfer-Encoding: chunked\r\n");
                return body.Length.ToString("x", CultureInfo.InvariantCulture) + "\r\n" + body + "\r\n0\r\n\r\n";
            case 1:
                // a length that lies: more bytes follow than declared (a smuggled second request, or garbage)
                var declared = random.Next(0, body.Length + 1);
                head.Append("Content-Length: ").Append(declared).Append("\r\n");
                return body + (random.Next(2) == 0 ? "GET /v1/invoke/orders/smuggled HTTP/1.1\r\nHost: orders\r\n\r\n" : "");
            case 2:
                head.Append("Transfer-Encoding: chunked\r\n");
                return "zz\r\n" + body;
            default:
                head.Append("Content-Length: ").Append(body.Length).Append("\r\n");
                return body;
        }
    }

    private string RandomBytes(int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return Encoding.Latin1.GetString(bytes);
    }

    private string Pick(string[] values) => values[random.Next(values.Length)];

    // From the broken ones one time in four when this request is to be broken.
    private string Pick(string[] wellFormed, string[] broken) => _broken && random.Next(4) == 0 ? Pick(broken) : Pick(wellFormed);
}

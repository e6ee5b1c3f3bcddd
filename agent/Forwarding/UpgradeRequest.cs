using Microsoft.Extensions.Primitives;

namespace Sidecar.Forwarding;

/// <summary>
/// Whether a request asks to switch protocols (RFC 9110 section 7.8; a WebSocket handshake, RFC 6455 section 4.1):
/// an HTTP/1.1 GET with <c>Upgrade</c> and a <c>Connection</c> that names it. No I/O: the headers in, the answer out.
/// Only such a request goes to <see cref="UpgradeCall"/>; every other one keeps the hop-by-hop rules
/// (<c>Upgrade</c> dropped, an unasked <c>101</c> answered 502: docs/forwarding.md#websocket-and-other-upgrades).
/// </summary>
internal static class UpgradeRequest
{
    public static bool Asks(string method, string protocol, StringValues connection, StringValues upgrade) =>
        HttpMethods.IsGet(method) &&
        string.Equals(protocol, "HTTP/1.1", StringComparison.Ordinal) &&
        HasToken(connection, "upgrade") &&
        HasValue(upgrade);

    /// <summary>True when one of the comma-separated tokens of <paramref name="values"/> is <paramref name="token"/> (case-insensitive).</summary>
    internal static bool HasToken(StringValues values, string token)
    {
        foreach (var value in values)
        {
            if (value is null)
            {
                continue;
            }

            foreach (var part in value.AsSpan().Split(','))
            {
                if (value.AsSpan()[part].Trim().Equals(token, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool HasValue(StringValues values)
    {
        foreach (var value in values)
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                return true;
            }
        }

        return false;
    }
}

using System.Net;

namespace Sidecar.Platform;

/// <summary>
/// The one place the agent's outgoing HTTP handlers are set up (Eureka, the Config Server, the app's
/// health probe, forwarded calls, <c>agent wait</c>): what they share is here, each caller sets only
/// what differs (decompression, header encoding, trace headers).
/// </summary>
internal static class AgentHttpHandler
{
    /// <summary>
    /// A handler that never uses a proxy (the agent's own environment may point <c>HTTP_PROXY</c> at the
    /// agent, in supervisor mode), keeps no cookies, follows no redirect (one would carry the request's
    /// headers, tokens included, to another host) and decompresses nothing unless the caller asks.
    /// </summary>
    /// <param name="connectTimeout">How long a connection may take to open.</param>
    /// <param name="pooledConnectionIdleTimeout">How long an idle pooled connection is kept; null: the handler's default.</param>
    public static SocketsHttpHandler Create(TimeSpan connectTimeout, TimeSpan? pooledConnectionIdleTimeout = null)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = connectTimeout,
        };
        if (pooledConnectionIdleTimeout is { } idle)
        {
            handler.PooledConnectionIdleTimeout = idle;
        }

        return handler;
    }

    /// <summary>An <see cref="HttpClient"/> over <paramref name="handler"/> without a time-out of its own: the caller's token carries it (on the injected clock).</summary>
    public static HttpClient Client(HttpMessageHandler handler) => new(handler) { Timeout = Timeout.InfiniteTimeSpan };
}

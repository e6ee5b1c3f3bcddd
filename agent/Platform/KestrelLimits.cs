using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Sidecar.Platform;

/// <summary>
/// The limits Kestrel applies to every connection of the agent, stated here rather than left
/// implicit, so slow or hostile clients cost bounded time and memory (docs/reliability.md#limits-configured). Requests Kestrel refuses under these limits get its own bare status (400, 408, 413,
/// 414, 431), before the agent sees them.
/// </summary>
internal static class KestrelLimits
{
    /// <summary>
    /// Time for a request's headers to arrive (Kestrel's default is 30 s): a client trickling its
    /// headers byte by byte (slowloris) holds a connection this long at most. An app on the same
    /// host sends its headers at once.
    /// </summary>
    public static readonly TimeSpan RequestHeadersTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Largest request body of the agent's own routes (the biggest legitimate one, the status body,
    /// is 4 KiB). Forwarded calls lift it per request and apply <c>Forwarding:MaxBodySize</c> instead.
    /// </summary>
    public const long MaxRequestBodySize = 1024 * 1024;

    /// <summary>
    /// A request body must arrive at 240 bytes/s or more after a 5 s grace period, and the client
    /// must read answers at that rate (Kestrel's defaults, kept): a slow uploader or a client that
    /// stops reading is cut off instead of holding the connection and its buffers.
    /// </summary>
    public static readonly MinDataRate MinDataRate = new(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));

    /// <summary>
    /// Most connections the public health listener holds at once. It listens on every interface, so
    /// anyone on the network can open connections there; without a cap they could use up the
    /// process's file descriptors and take the API (and forwarding) down with it. Probes need a few.
    /// </summary>
    public const int MaxPublicHealthConnections = 256;

    /// <summary>
    /// Most connections one remote address holds on the public health listener at once: one host
    /// cannot take the slots of the others (the kubelet, Eureka). A prober needs one or two.
    /// </summary>
    public const int MaxPublicHealthConnectionsPerAddress = 16;

    /// <summary>
    /// Time for a connection to the public health listener to send its request head, from the accept;
    /// it is closed otherwise. Answers there close their connection, so this is all the idle time an
    /// idle socket gets (instead of Kestrel's keep-alive time-out, 130 s, which the API keeps).
    /// </summary>
    public static readonly TimeSpan PublicHealthIdleTimeout = TimeSpan.FromSeconds(5);

    public static void ApplyAgentLimits(this KestrelServerOptions kestrel)
    {
        var limits = kestrel.Limits;
        limits.RequestHeadersTimeout = RequestHeadersTimeout;
        limits.MaxRequestBodySize = MaxRequestBodySize;
        limits.MinRequestBodyDataRate = MinDataRate;
        limits.MinResponseDataRate = MinDataRate;

        // Kestrel's defaults, stated: 8 KiB request line (414 beyond), 32 KiB of headers and 100 of them (431 beyond).
        limits.MaxRequestLineSize = 8 * 1024;
        limits.MaxRequestHeadersTotalSize = 32 * 1024;
        limits.MaxRequestHeaderCount = 100;
    }
}

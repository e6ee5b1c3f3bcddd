using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Sidecar.Configuration;
using Sidecar.Forwarding;
using Sidecar.Forwarding.Http1;
using Sidecar.Platform;

namespace Sidecar.Hosting;

internal static class AgentListeners
{
    /// <summary>
    /// How the agent's Kestrel reads and writes heads, on every listener: its limits, Latin-1 values both ways, the
    /// absolute form's host over <c>Host</c>, no <c>Server</c> field. The forwarding core's reader of request heads
    /// is checked against Kestrel set up this way (<c>RequestHeadReaderTests</c>).
    /// </summary>
    internal static void ReadHeadsAsTheAgent(this KestrelServerOptions kestrel)
    {
        kestrel.AddServerHeader = false;
        // An absolute-form target (GET http://Orders/x through HTTP_PROXY) names the host; the Host
        // header is then ignored, as RFC 9112 section 3.2.2 asks of a proxy. Without this Kestrel
        // compares the two case-sensitively after lower-casing the target's, and refuses
        // "http://Orders/" with Host "Orders" by a bare 400. ForwardProxyMiddleware reads the raw target.
        kestrel.AllowHostHeaderOverride = true;

        // Header values as bytes, one character each (Latin-1), both ways, as nginx passes them: a
        // UTF-8 "X-User: José" from an app, or a UTF-8 filename in an instance's Content-Disposition,
        // is relayed unchanged instead of failing (docs/forwarding.md#bodies-and-headers). Kestrel still
        // refuses CR, LF and NUL in requests; the forwarder refuses the other control characters.
        kestrel.RequestHeaderEncodingSelector = static _ => System.Text.Encoding.Latin1;
        kestrel.ResponseHeaderEncodingSelector = static _ => System.Text.Encoding.Latin1;
        kestrel.ApplyAgentLimits();
    }

    /// <summary>
    /// The API on <c>SIDECAR_BIND_ADDRESS:SIDECAR_PORT</c> (loopback by default) and, when
    /// <c>SIDECAR_PUBLIC_HEALTH_PORT</c> is set, a listener on all interfaces for the health routes only; when
    /// <c>SIDECAR_GRPC_PORT</c> is set, an HTTP/2-only listener beside the API for gRPC clients (docs/grpc.md).
    /// </summary>
    public static void AddAgentListeners(this WebApplicationBuilder builder, SidecarOptions options)
    {
        builder.Services.AddHostedService<StartupLogger>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<PublicHealthConnections>();
        builder.Services.TryAddSingleton<PublicRoutes>();
        if (InlineIo.Enabled)
        {
            builder.WebHost.UseSockets(sockets =>
            {
                sockets.UnsafePreferInlineScheduling = true;
                // A real read at once instead of a zero-byte read first: one system call less per
                // request, for a 4 KiB buffer kept per connection (a sidecar has few).
                sockets.WaitForDataBeforeAllocatingBuffer = false;
            });
        }

        builder.Services.TryAddSingleton(sp => new ForwardingCore(sp.GetRequiredService<Forwarder>(), sp.GetRequiredService<CoreRequestLog>())
        {
            KeepAlive = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<KestrelServerOptions>>().Value.Limits.KeepAliveTimeout,
        });
        builder.Services.TryAddSingleton<CoreRequestLog>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ReadHeadsAsTheAgent();
            kestrel.Listen(options.BindAddress, options.Port, listen =>
            {
                // The forwarding core in front of Kestrel's HTTP layer on the API (docs/performance.md#the-forwarding-core).
                // Resolved at the first connection: Kestrel's options are still being made here, and the forwarder's
                // services must not be made inside them.
                var services = listen.ApplicationServices;
                listen.Use(next =>
                {
                    ConnectionDelegate? served = null;
                    return connection =>
                    {
                        served ??= services.GetRequiredService<ForwardingOptions>().Core
                            ? services.GetRequiredService<ForwardingCore>().Use(next)
                            : next;
                        return served(connection);
                    };
                });
            });
            if (options.GrpcPort is { } grpcPort)
            {
                // HTTP/2 only: without TLS (no ALPN) Kestrel serves h2c prior knowledge on a port only when it
                // speaks nothing else; on the API's Http1AndHttp2 a cleartext connection is HTTP/1.1 (docs/grpc.md).
                kestrel.Listen(options.BindAddress, grpcPort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http2;
                    listen.Use(next => connection =>
                    {
                        connection.Items[ListenerExtensions.GrpcItemKey] = true;
                        return next(connection);
                    });
                });
            }

            if (options.PublicHealthPort is { } publicPort)
            {
                // [::], dual-mode (IPv4 clients too), so IPv6-only pods are probed as well; Kestrel falls
                // back to 0.0.0.0 where IPv6 cannot be bound (a port in use still fails the start).
                kestrel.ListenAnyIP(publicPort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1; // probes speak HTTP/1.1; Connection: close is an HTTP/1 notion
                    listen.Use(listen.ApplicationServices.GetRequiredService<PublicHealthConnections>().Use);
                });
            }

            if (options.MetricsPort is { } metricsPort)
            {
                // All interfaces, as the public health listener: Prometheus scrapes from outside the pod.
                kestrel.ListenAnyIP(metricsPort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1;
                    listen.Use(next => connection =>
                    {
                        connection.Items[ListenerExtensions.MetricsItemKey] = true;
                        return next(connection);
                    });
                });
            }
        });
    }
}

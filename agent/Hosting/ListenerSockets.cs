using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Hosting;

/// <summary>
/// Port 0 on a listener (<c>SIDECAR_PORT</c>, <c>SIDECAR_PUBLIC_HEALTH_PORT</c>, <c>SIDECAR_METRICS_PORT</c>, <c>SIDECAR_GRPC_PORT</c>):
/// a free port, bound here before anything reads the options, so every part of the agent sees the port
/// actually bound (the URLs registered in Eureka, <c>SIDECAR_PORT</c> given to a supervised app). Kestrel
/// then listens on that very socket: the port is never released and taken again, so nothing can take it
/// in between. The start-up line names the bound addresses (docs/operations.md#listeners-and-security-defaults).
/// </summary>
internal sealed class ListenerSockets : IDisposable
{
    private readonly List<Socket> _sockets = [];

    /// <summary>Binds a socket for each listener set to port 0 and returns the options with the ports bound.</summary>
    /// <exception cref="AgentStartException">When the address cannot be bound.</exception>
    public static SidecarOptions Reserve(WebApplicationBuilder builder, SidecarOptions options)
    {
        if (options.Port != 0 && options.PublicHealthPort != 0 && options.MetricsPort != 0 && options.GrpcPort != 0)
        {
            return options; // the usual case: Kestrel binds the fixed ports itself
        }

        var sockets = new ListenerSockets();
        try
        {
            options = options with
            {
                Port = options.Port == 0 ? sockets.Bind(options.BindAddress) : options.Port,
                PublicHealthPort = options.PublicHealthPort == 0 ? sockets.BindAny() : options.PublicHealthPort,
                MetricsPort = options.MetricsPort == 0 ? sockets.BindAny() : options.MetricsPort,
                GrpcPort = options.GrpcPort == 0 ? sockets.Bind(options.BindAddress) : options.GrpcPort,
            };
        }
        catch (SocketException ex)
        {
            sockets.Dispose();
            throw new AgentStartException("cannot listen: " + ex.Message);
        }

        builder.Services.AddSingleton(sockets); // disposed with the host: a socket Kestrel never took is closed
        builder.WebHost.UseSockets(transport => transport.CreateBoundListenSocket = sockets.Take);
        return options;
    }

    public void Dispose()
    {
        lock (_sockets)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }

            _sockets.Clear();
        }
    }

    private int Bind(IPAddress address)
    {
        var socket = SocketTransportOptions.CreateDefaultBoundListenSocket(new IPEndPoint(address, 0));
        lock (_sockets)
        {
            _sockets.Add(socket);
        }

        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    // As Kestrel's ListenAnyIP: [::] dual-mode, or 0.0.0.0 where IPv6 cannot be bound.
    private int BindAny()
    {
        try
        {
            return Bind(IPAddress.IPv6Any);
        }
        catch (SocketException)
        {
            return Bind(IPAddress.Any);
        }
    }

    // Kestrel asks for each listener's socket: the one bound above for that address, else a new one as usual.
    private Socket Take(EndPoint endpoint)
    {
        lock (_sockets)
        {
            var index = _sockets.FindIndex(s => endpoint.Equals(s.LocalEndPoint));
            if (index >= 0)
            {
                var socket = _sockets[index];
                _sockets.RemoveAt(index); // Kestrel owns it from here
                return socket;
            }
        }

        return SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
    }
}

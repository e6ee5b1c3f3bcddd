using System.Net;
using System.Net.Sockets;

namespace Sidecar.Forwarding.Tcp;

/// <summary>
/// Port 0 in <c>SIDECAR_TCP_LISTENERS</c> (<c>0=redis</c>): a free port, bound here while the options are read, before
/// anything uses them, so every part of the agent sees the port actually bound (the metrics' <c>listener</c> label,
/// the loop check, the status page, the start-up line: docs/forwarding.md#tcp-listeners). <see cref="TcpListeners"/>
/// then listens on that very socket: the port is never released and taken again, so nothing can take it in between
/// (as the HTTP listeners' port 0, docs/operations.md#listeners-and-security-defaults).
/// </summary>
internal sealed class TcpListenerSockets : IDisposable
{
    private readonly Dictionary<int, Socket> _bound = [];

    /// <summary>Binds a socket for each listener at port 0; returns the options with the ports bound (the same options when there is none).</summary>
    /// <exception cref="Platform.AgentStartException">When the address cannot be bound.</exception>
    public static ForwardingOptions Reserve(IServiceCollection services, ForwardingOptions options, IPAddress address)
    {
        if (!options.TcpListeners.Any(l => l.Port == 0))
        {
            return options;
        }

        var sockets = new TcpListenerSockets();
        var specs = new List<TcpListenerSpec>(options.TcpListeners.Count);
        try
        {
            foreach (var spec in options.TcpListeners)
            {
                if (spec.Port != 0)
                {
                    specs.Add(spec);
                    continue;
                }

                var socket = TcpListeners.Bind(address, spec, listen: false);
                var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
                sockets._bound[port] = socket;
                specs.Add(new TcpListenerSpec(port, spec.Service)); // not `with`: the label is computed from the port
            }
        }
        catch
        {
            sockets.Dispose();
            throw;
        }

        services.AddSingleton(sockets); // disposed with the host: a socket never taken is closed
        return options with { TcpListeners = specs };
    }

    /// <summary>The socket bound for <paramref name="port"/>, which the caller owns from now on; null when the port was not picked here.</summary>
    public Socket? Take(int port)
    {
        lock (_bound)
        {
            return _bound.Remove(port, out var socket) ? socket : null;
        }
    }

    public void Dispose()
    {
        lock (_bound)
        {
            foreach (var socket in _bound.Values)
            {
                socket.Dispose();
            }

            _bound.Clear();
        }
    }
}

using System.Net;
using Microsoft.AspNetCore.Connections;

namespace Sidecar.Platform;

/// <summary>
/// The connection middleware of the public health listener, which anyone on the network can reach:
/// it admits at most <see cref="KestrelLimits.MaxPublicHealthConnections"/> connections in all and
/// <see cref="KestrelLimits.MaxPublicHealthConnectionsPerAddress"/> per remote address (beyond, the
/// connection is closed before a byte is read), and closes a connection that has not sent a whole
/// request head within <see cref="KestrelLimits.PublicHealthIdleTimeout"/>. Together with
/// <c>Connection: close</c> on every answer there (<see cref="ListenerExtensions.UsePublicHealthGuard"/>),
/// idle sockets cannot hold the slots the kubelet's and Eureka's probes need: Kestrel's keep-alive
/// time-out (130 s) is server-wide, and the API on loopback keeps it.
/// </summary>
internal sealed class PublicHealthConnections(TimeProvider time)
{
    /// <summary>Set in <see cref="ConnectionContext.Items"/> under this key on every admitted connection.</summary>
    public const string ItemKey = "sidecar.public-health";

    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private int _total;

    /// <summary>Connections held now.</summary>
    public int Count
    {
        get
        {
            lock (_perAddress)
            {
                return _total;
            }
        }
    }

    public ConnectionDelegate Use(ConnectionDelegate next) => connection => OnConnectionAsync(connection, next);

    private async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var address = RemoteAddress(connection);
        if (!TryEnter(address))
        {
            return; // Kestrel closes the socket when this returns
        }

        var state = new PublicHealthConnection();
        connection.Items[ItemKey] = state;
        using var idle = time.CreateTimer(
            static s =>
            {
                var (connection, state) = ((ConnectionContext, PublicHealthConnection))s!;
                if (!state.RequestStarted)
                {
                    connection.Abort(new ConnectionAbortedException("No request head within the public health listener's time-out."));
                }
            },
            (connection, state),
            KestrelLimits.PublicHealthIdleTimeout,
            Timeout.InfiniteTimeSpan);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            Exit(address);
        }
    }

    private bool TryEnter(IPAddress address)
    {
        lock (_perAddress)
        {
            var open = _perAddress.GetValueOrDefault(address);
            if (_total >= KestrelLimits.MaxPublicHealthConnections || open >= KestrelLimits.MaxPublicHealthConnectionsPerAddress)
            {
                return false;
            }

            _perAddress[address] = open + 1;
            _total++;
            return true;
        }
    }

    private void Exit(IPAddress address)
    {
        lock (_perAddress)
        {
            _total--;
            var open = _perAddress[address] - 1;
            if (open == 0)
            {
                _perAddress.Remove(address); // only addresses with open connections are kept: the table stays small
            }
            else
            {
                _perAddress[address] = open;
            }
        }
    }

    // The dual-mode IPv6 socket shows IPv4 clients as ::ffff:a.b.c.d: one client, one key, whichever way it came.
    private static IPAddress RemoteAddress(ConnectionContext connection) =>
        connection.RemoteEndPoint is IPEndPoint { Address: var address }
            ? address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address
            : IPAddress.None;
}

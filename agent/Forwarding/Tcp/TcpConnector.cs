using System.Collections.Concurrent;
using System.Net.Sockets;

namespace Sidecar.Forwarding.Tcp;

/// <summary>
/// Opens the instance side of a TCP listener's connection (docs/forwarding.md#tcp-listeners): the service's
/// pool chooses the instance as for an HTTP call (UP, not ejected, same zone first, power of two choices on
/// open connections), the connect has <c>Forwarding:ConnectTimeout</c>, and a failed connect counts
/// towards the instance's ejection and is tried again on another instance, up to the service's <c>Retries</c>
/// (<see cref="TcpConnectDecider"/>).
/// </summary>
internal sealed class TcpConnector(ServicePools pools, ForwardingOptions options, TcpLog log)
{
    private readonly int[] _listenerPorts = [.. options.TcpListeners.Select(l => l.Port)];
    private readonly ConcurrentDictionary<string, byte> _warnedLoops = new(StringComparer.Ordinal);

    /// <summary>The bind address of the listeners (an instance there on a listener's port is the agent itself).</summary>
    public System.Net.IPAddress BindAddress { get; init; } = System.Net.IPAddress.Loopback;

    /// <summary>A connected socket and the instance it reaches (acquired: release it when the connection ends); null when no instance could be reached.</summary>
    /// <param name="spec">The listener.</param>
    /// <param name="counters">Its counters (connect failures).</param>
    /// <param name="abandoned">Cancelled when the app's connection is closed by the agent meanwhile (drain).</param>
    /// <param name="span">The connection's span (<see cref="TcpTracing"/>), null when tracing is off.</param>
    public async Task<(Socket Socket, InstanceState Instance)?> ConnectAsync(TcpListenerSpec spec, TcpListenerCounters counters, CancellationToken abandoned, System.Diagnostics.Activity? span = null)
    {
        var pool = pools.Find(spec.Service);
        if (pool is null)
        {
            counters.ConnectFailed("no_instance");
            log.NotConnected(spec, 0, "no source (ROUTES, Eureka) knows the service");
            TcpTracing.NotConnected(span, "no_instance", 0);
            return null;
        }

        var tried = new List<InstanceState>(2);
        var attempts = 0;
        var last = "";
        var lastReason = "no_instance";
        while (pool.PickExcept(tried) is { } state)
        {
            tried.Add(state);
            var instance = state.Instance;
            if (IsOwnListener(instance.Host, instance.Port))
            {
                state.Release();
                if (_warnedLoops.Count < 1024 && _warnedLoops.TryAdd($"{spec.Service}/{instance.InstanceId}", 0))
                {
                    log.OwnListener(spec, instance.InstanceId, instance.Host, instance.Port);
                }

                continue;
            }

            attempts++;
            var (socket, outcome) = await TryConnectAsync(instance.Host, instance.Port, abandoned).ConfigureAwait(false);
            if (outcome == TcpConnectOutcome.Connected)
            {
                ServicePool.RecordSuccess(state);
                TcpTracing.Connected(span, instance, socket!.RemoteEndPoint, attempts);
                return (socket, state);
            }

            state.Release();
            if (outcome == TcpConnectOutcome.Abandoned)
            {
                return null;
            }

            var reason = TcpConnectDecider.Reason(outcome);
            counters.ConnectFailed(reason);
            TcpTracing.ConnectFailed(span, instance, instance.InstanceId, reason, attempts);
            var decision = TcpConnectDecider.Decide(outcome, attempts, pool.Policy.Retries);
            if (decision.InstanceFailed)
            {
                pool.RecordFailure(state);
            }

            last = $"{instance.InstanceId}: {reason}";
            lastReason = reason;
            if (!decision.TryAnother)
            {
                break;
            }

            log.Retrying(spec, instance.InstanceId, reason);
        }

        if (attempts == 0)
        {
            counters.ConnectFailed("no_instance");
            last = "no instance is UP and not ejected";
        }

        log.NotConnected(spec, attempts, last);
        TcpTracing.NotConnected(span, lastReason, attempts);
        return null;
    }

    private async Task<(Socket? Socket, TcpConnectOutcome Outcome)> TryConnectAsync(string host, int port, CancellationToken abandoned)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(abandoned);
        timeout.CancelAfter(options.ConnectTimeout);
        try
        {
            await socket.ConnectAsync(host.Trim('[', ']'), port, timeout.Token).ConfigureAwait(false);
            return (socket, TcpConnectOutcome.Connected);
        }
        catch (OperationCanceledException)
        {
            socket.Dispose();
            return (null, abandoned.IsCancellationRequested ? TcpConnectOutcome.Abandoned : TcpConnectOutcome.TimedOut);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            return (null, TcpConnectDecider.Classify(ex.SocketErrorCode));
        }
    }

    // A registry entry pointing at one of this agent's own listeners: connecting would loop through the agent.
    private bool IsOwnListener(string host, int port) =>
        Array.IndexOf(_listenerPorts, port) >= 0 && TcpListenerSpec.IsListenerAddress(host, BindAddress);
}

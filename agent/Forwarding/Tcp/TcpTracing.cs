using System.Diagnostics;
using System.Net;
using Sidecar.Observability;

namespace Sidecar.Forwarding.Tcp;

/// <summary>
/// The span of one TCP listener connection (docs/observability.md#tracing), when tracing is on: a client span
/// named <c>tcp {service}</c> on the agent's <see cref="AgentTracing.Source"/>, from the accept to the end of the
/// relay, the root of a trace of its own (a byte stream carries no <c>traceparent</c>). Attributes follow
/// OpenTelemetry's semantic conventions where they have one (<c>network.transport</c>, <c>peer.service</c>,
/// <c>server.address</c>/<c>server.port</c> of the instance reached, <c>network.peer.address</c>, <c>error.type</c>);
/// the rest are the agent's own <c>sidecar.*</c>. Every method takes a null span (tracing off) at no cost.
/// </summary>
internal static class TcpTracing
{
    /// <summary>The connection's span, or null when tracing is off or the sampler dropped it. Call from an async method.</summary>
    public static Activity? Start(AgentTracing? tracing, TcpListenerSpec spec)
    {
        if (tracing is not { Enabled: true } || !AgentTracing.Source.HasListeners())
        {
            return null;
        }

        Activity.Current = null; // never a child of whatever ran the accept loop
        var activity = AgentTracing.Source.StartActivity("tcp " + spec.Service, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("network.transport", "tcp");
            activity.SetTag("peer.service", spec.Service);
            activity.SetTag("sidecar.tcp.listener", spec.Port);
        }

        return activity;
    }

    /// <summary>One connect attempt failed: a <c>sidecar.connect_failed</c> event naming the instance and the reason.</summary>
    public static void ConnectFailed(Activity? activity, ITracedPeer instance, string instanceId, string reason, int attempt)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.AddEvent(new ActivityEvent("sidecar.connect_failed", tags: new ActivityTagsCollection
            {
                ["server.address"] = instance.Host,
                ["server.port"] = instance.Port,
                ["sidecar.instance"] = instanceId,
                ["sidecar.attempt"] = attempt,
                ["error.type"] = reason,
            }));
        }
    }

    /// <summary>The instance the connection reached, after <paramref name="attempts"/> connect attempts.</summary>
    public static void Connected(Activity? activity, ITracedPeer instance, EndPoint? peer, int attempts)
    {
        if (activity is { IsAllDataRequested: true })
        {
            AgentTracing.SetInstance(activity, instance);
            if (peer is IPEndPoint ip)
            {
                activity.SetTag("network.peer.address", ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4().ToString() : ip.Address.ToString());
                activity.SetTag("network.peer.port", ip.Port);
            }

            activity.SetTag("sidecar.tcp.connect_attempts", attempts);
        }
    }

    /// <summary>No instance could be reached: the span's status is an error, <c>error.type</c> the last reason (<c>no_instance</c> when none was tried).</summary>
    public static void NotConnected(Activity? activity, string reason, int attempts)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("error.type", reason);
            activity.SetTag("sidecar.tcp.connect_attempts", attempts);
            activity.SetStatus(ActivityStatusCode.Error, attempts == 0 ? "no instance to connect to" : "no instance could be reached");
        }
    }

    /// <summary>Ends the span with the bytes relayed each way and, when the agent closed the connection itself, why.</summary>
    public static void Stop(Activity? activity, TcpConnection connection)
    {
        if (activity is null)
        {
            return;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag("sidecar.tcp.bytes_sent", connection.BytesToInstance);
            activity.SetTag("sidecar.tcp.bytes_received", connection.BytesToApp);
            if (connection.ClosedBy is { } by)
            {
                activity.SetTag("sidecar.tcp.closed_by", by);
            }
        }

        activity.Stop();
    }
}

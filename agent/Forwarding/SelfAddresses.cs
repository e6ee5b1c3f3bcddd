using System.Net;
using System.Net.NetworkInformation;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Sidecar.Discovery;

namespace Sidecar.Forwarding;

/// <summary>
/// The addresses the agent itself listens on. An instance found there (a registry entry pointing at
/// an agent's API, e.g. an app registered with APP_PORT = SIDECAR_PORT) is left out of its service:
/// calls to it would come back into the agent and go round again (docs/forwarding.md#ways-in: the
/// forwarder reaches only known services). Static ROUTES to the agent are refused at start already.
/// Host names other than <c>localhost</c> are not resolved: only IP literals are recognised.
/// </summary>
internal sealed partial class SelfAddresses(IServer server, ILogger<SelfAddresses> logger)
{
    private readonly HashSet<string> _logged = new(StringComparer.Ordinal);
    private IPEndPoint[]? _listening;
    private HashSet<IPAddress>? _local;

    /// <summary>The instances that are not the agent itself; the same list when none is (the usual case: no copy).</summary>
    public IReadOnlyList<ServiceInstance> Without(IReadOnlyList<ServiceInstance> instances)
    {
        List<ServiceInstance>? kept = null;
        for (var i = 0; i < instances.Count; i++)
        {
            var instance = instances[i];
            if (IsSelf(instance))
            {
                kept ??= [.. instances.Take(i)];
                lock (_logged)
                {
                    if (_logged.Add(instance.ServiceId + "/" + instance.InstanceId))
                    {
                        LogLeftOut(logger, instance.ServiceId, instance.InstanceId, instance.Host, instance.Port);
                    }
                }
            }
            else
            {
                kept?.Add(instance);
            }
        }

        return kept ?? instances;
    }

    internal bool IsSelf(ServiceInstance instance)
    {
        var listening = Listening();
        IPAddress? address = null;
        var isLocalhost = instance.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase);
        if (!isLocalhost && !IPAddress.TryParse(instance.Host.Trim('[', ']'), out address))
        {
            return false;
        }

        foreach (var endpoint in listening)
        {
            if (endpoint.Port != instance.Port)
            {
                continue;
            }

            var bound = endpoint.Address;
            if (bound.Equals(IPAddress.Any) || bound.Equals(IPAddress.IPv6Any))
            {
                if (isLocalhost || IPAddress.IsLoopback(address!) || LocalAddresses().Contains(address!))
                {
                    return true;
                }
            }
            else if (IPAddress.IsLoopback(bound) ? isLocalhost || IPAddress.IsLoopback(address!) : !isLocalhost && bound.Equals(address))
            {
                return true;
            }
        }

        return false;
    }

    // Read once Kestrel listens (the port may have been 0); forwarding only happens after that.
    private IPEndPoint[] Listening()
    {
        if (Volatile.Read(ref _listening) is { } known)
        {
            return known;
        }

        var endpoints = new List<IPEndPoint>();
        foreach (var address in server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
        {
            if (BindingAddress.Parse(address) is { } binding && IPAddress.TryParse(binding.Host.Trim('[', ']'), out var ip))
            {
                endpoints.Add(new IPEndPoint(ip, binding.Port));
            }
        }

        if (endpoints.Count == 0)
        {
            return [];
        }

        Volatile.Write(ref _listening, [.. endpoints]);
        return _listening!;
    }

    private HashSet<IPAddress> LocalAddresses() => _local ??= [.. NetworkInterface.GetAllNetworkInterfaces()
        .SelectMany(n => n.GetIPProperties().UnicastAddresses)
        .Select(a => a.Address)];

    [LoggerMessage(EventId = 590, Level = LogLevel.Warning, Message = "Instance {InstanceId} of {Service} at {Host}:{Port} is this agent's own API: left out (calls to it would loop)")]
    private static partial void LogLeftOut(ILogger logger, string service, string instanceId, string host, int port);
}

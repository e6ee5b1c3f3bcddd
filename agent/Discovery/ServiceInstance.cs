using Sidecar.Eureka;
using Sidecar.Observability;

namespace Sidecar.Discovery;

/// <summary>One instance of a service the agent can send calls to, from Eureka or from static routes.</summary>
/// <param name="ServiceId">The service's name as the user writes it (lower case: <c>orders</c>).</param>
/// <param name="InstanceId">Unique within the service (Eureka's instanceId; <c>host:port</c> for static routes).</param>
/// <param name="Host">Host name or IP to connect to (the IP when Eureka's preferIp is on).</param>
/// <param name="Port">The port to connect to (the secure port when <paramref name="Secure"/>).</param>
/// <param name="Secure">Whether calls use https.</param>
/// <param name="Status">Eureka's status; static routes are always UP.</param>
/// <param name="Zone">The instance's zone (metadata <c>zone</c>), when known.</param>
/// <param name="Metadata">Eureka metadata; empty for static routes.</param>
/// <remarks>Every source checks <see cref="Check"/> first: the constructor throws for a host or port that makes no URL.</remarks>
internal sealed record ServiceInstance(
    string ServiceId,
    string InstanceId,
    string Host,
    int Port,
    bool Secure,
    InstanceStatus Status,
    string? Zone,
    IReadOnlyDictionary<string, string> Metadata) : ITracedPeer
{
    /// <summary><c>http://host:port</c>, built once per instance (the forwarder's destination prefix).</summary>
    public Uri BaseUri { get; } = new UriBuilder(Secure ? Uri.UriSchemeHttps : Uri.UriSchemeHttp, Host, Port).Uri;

    /// <summary>
    /// Why calls cannot go to <paramref name="host"/>:<paramref name="port"/>; null when they can. A registry
    /// entry is written by whoever can register (docs/eureka.md#malformed-instances): the host must be a
    /// DNS name or an IP literal (no spaces, <c>%</c>, <c>:</c>, <c>\</c>, brackets other than an IPv6
    /// literal's, zone ids), the port 1-65535.
    /// </summary>
    /// <param name="host">The host name or IP literal.</param>
    /// <param name="port">The port.</param>
    /// <param name="hostField">What the reason calls the host (<c>hostName</c>, <c>ipAddr</c>).</param>
    /// <param name="portField">What the reason calls the port (<c>port</c>, <c>securePort</c>).</param>
    public static string? Check(string host, int port, string hostField = "host", string portField = "port")
    {
        if (port is < 1 or > 65535)
        {
            return $"{portField} {port} is not in 1-65535";
        }

        if (host.Length == 0)
        {
            return $"no {hostField}";
        }

        // CheckHostName accepts "fe80::1%eth0" as IPv6, and UriBuilder then drops the zone id: refused too.
        if (host.Contains('%', StringComparison.Ordinal) || Uri.CheckHostName(host) is not (UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6))
        {
            return $"{hostField} '{Shown(host)}' is not a DNS name or an IP address";
        }

        return null;
    }

    /// <summary>Text from a registry entry as one short log line shows it: control characters escaped, at most 64 characters.</summary>
    public static string Shown(string text) =>
        Platform.LogText.Printable(text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 64), "..."));
}

using Sidecar.Health;

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
internal sealed record ServiceInstance(
    string ServiceId,
    string InstanceId,
    string Host,
    int Port,
    bool Secure,
    InstanceStatus Status,
    string? Zone,
    IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary><c>http://host:port</c>, built once per instance (the forwarder's destination prefix).</summary>
    public Uri BaseUri { get; } = new UriBuilder(Secure ? Uri.UriSchemeHttps : Uri.UriSchemeHttp, Host, Port).Uri;
}

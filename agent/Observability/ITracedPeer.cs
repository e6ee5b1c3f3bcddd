namespace Sidecar.Observability;

/// <summary>The instance a span's attempt goes to, as tracing records it (<c>server.address</c>, <c>server.port</c>): a forwarded call's <c>ServiceInstance</c>.</summary>
internal interface ITracedPeer
{
    public string Host { get; }

    public int Port { get; }
}

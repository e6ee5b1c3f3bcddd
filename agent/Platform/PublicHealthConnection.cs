namespace Sidecar.Platform;

/// <summary>One connection of the public health listener: whether its first request head has arrived.</summary>
internal sealed class PublicHealthConnection
{
    private volatile bool _requestStarted;

    public bool RequestStarted => _requestStarted;

    public void MarkRequestStarted() => _requestStarted = true;
}

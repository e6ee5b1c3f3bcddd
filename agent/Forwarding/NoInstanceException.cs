namespace Sidecar.Forwarding;

/// <summary>The outcome of an attempt that found no instance to send to (all DOWN, ejected or gone): never retried.</summary>
internal sealed class NoInstanceException : Exception
{
    public NoInstanceException()
        : base("no instance is available")
    {
    }

    public NoInstanceException(string message)
        : base(message)
    {
    }

    public NoInstanceException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

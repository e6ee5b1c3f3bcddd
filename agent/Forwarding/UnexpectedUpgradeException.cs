namespace Sidecar.Forwarding;

/// <summary>The outcome of an attempt answered <c>101 Switching Protocols</c> when no upgrade was asked for: a 502, never retried.</summary>
internal sealed class UnexpectedUpgradeException : Exception
{
    public UnexpectedUpgradeException()
        : base("the instance switched protocols unasked")
    {
    }

    public UnexpectedUpgradeException(string message)
        : base(message)
    {
    }

    public UnexpectedUpgradeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

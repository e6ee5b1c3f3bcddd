using Sidecar.Eureka;

namespace Sidecar.Registration;

/// <summary>Something a decision asks the loop to say or to record besides the call: a log line, an event, the marker file.</summary>
internal abstract record LeaseNote
{
    private LeaseNote()
    {
    }

    /// <summary>Eureka accepted a registration.</summary>
    internal sealed record Registered(string Server, InstanceStatus Status) : LeaseNote;

    /// <summary>A status change reached Eureka, by <paramref name="Operation"/>.</summary>
    internal sealed record StatusSent(InstanceStatus Previous, InstanceStatus Status, string Operation) : LeaseNote;

    /// <summary>A 404: the server does not know the lease; the next round registers.</summary>
    internal sealed record LeaseUnknown(string Operation, string Server) : LeaseNote;

    /// <summary>A call failed on every server; tried again in <paramref name="RetryIn"/>.</summary>
    internal sealed record Failed(string Operation, string Error, TimeSpan RetryIn) : LeaseNote;

    /// <summary>A call failed on every server and its retry would come after the cancel.</summary>
    internal sealed record FailedAtShutdown(string Operation, string Error) : LeaseNote;

    /// <summary>A status change waits for a token (said once per held status).</summary>
    internal sealed record RateLimited(InstanceStatus Status, DateTimeOffset NextAt) : LeaseNote;

    /// <summary>The read-back failed <paramref name="Attempts"/> times: not tried again.</summary>
    internal sealed record ReadBackGivenUp(int Attempts, string Error) : LeaseNote;

    /// <summary>The server kept an override this agent set before this start: the next round removes it.</summary>
    internal sealed record InheritedOverride(string Server, InstanceStatus Status) : LeaseNote;

    /// <summary>The server holds an override this agent did not set (an operator's): left in place.</summary>
    internal sealed record OperatorOverride(string Server, InstanceStatus Status) : LeaseNote;

    /// <summary>Write the marker: this agent set an override (docs/eureka.md#overrides-left-from-before-a-start).</summary>
    internal sealed record RememberOverride : LeaseNote;

    /// <summary>Delete the marker: the override is gone.</summary>
    internal sealed record ForgetOverride : LeaseNote;

    internal sealed record Cancelled(string Server) : LeaseNote;

    internal sealed record CancelFailed(string Error) : LeaseNote;
}

using static Sidecar.Registration.LeaseNote;
using Sidecar.Observability;
using Sidecar.Configuration;
using Sidecar.Eureka;

namespace Sidecar.Registration;

/// <summary>
/// Says what the lease's decisions note (<see cref="LeaseNote"/>): the log lines (under the category of
/// <see cref="EurekaRegistrationService"/>), the events of the status page, the marker file of an override
/// this agent set (docs/eureka.md#overrides-left-from-before-a-start).
/// </summary>
internal sealed partial class LeaseReporter(string app, string id, OwnOverrideMarker marker, ILogger logger, AgentEventLog? events)
{
    /// <summary>Says <paramref name="notes"/> in order, then a change of readiness as an event (renewals repeat the same text: only a change is one).</summary>
    public void Say(IReadOnlyList<LeaseNote> notes, LeaseState before, LeaseState after)
    {
        foreach (var note in notes)
        {
            Say(note);
        }

        var readiness = after.Readiness;
        if (readiness != before.Readiness)
        {
            events?.Add(AgentEventKind.Registration, char.ToUpperInvariant(readiness.Detail[0]) + readiness.Detail[1..]);
        }
    }

    private void Say(LeaseNote note)
    {
        switch (note)
        {
            case Registered registered:
                LogRegistered(logger, app, id, registered.Server, registered.Status.ToWire());
                break;
            case StatusSent sent:
                LogStatusSent(logger, app, id, sent.Previous.ToWire(), sent.Status.ToWire(), sent.Operation);
                break;
            case LeaseUnknown unknown:
                LogLeaseUnknown(logger, unknown.Operation, unknown.Server);
                break;
            case Failed failed:
                LogFailed(logger, failed.Operation, app, id, failed.Error, DurationParser.Format(failed.RetryIn));
                break;
            case FailedAtShutdown failed:
                LogFailedAtShutdown(logger, failed.Operation, app, id, failed.Error);
                break;
            case RateLimited limited:
                LogRateLimited(logger, limited.Status.ToWire(), limited.NextAt);
                break;
            case ReadBackGivenUp givenUp:
                LogReadBackGivenUp(logger, app, id, givenUp.Attempts, givenUp.Error);
                break;
            case InheritedOverride inherited:
                LogInheritedOverride(logger, inherited.Server, inherited.Status.ToWire(), app, id);
                events?.Add(AgentEventKind.Registration, $"Removing an override {inherited.Status.ToWire()} of {app}/{id} this agent left before this start");
                break;
            case OperatorOverride theirs:
                LogOperatorOverride(logger, theirs.Server, theirs.Status.ToWire(), app, id);
                events?.Add(AgentEventKind.Registration, $"Eureka holds an override {theirs.Status.ToWire()} of {app}/{id} that this agent did not set: left in place");
                break;
            case RememberOverride:
                marker.Remember(app, id);
                break;
            case ForgetOverride:
                marker.Forget();
                break;
            case Cancelled cancelled:
                LogCancelled(logger, app, id, cancelled.Server);
                events?.Add(AgentEventKind.Registration, $"Lease of {app}/{id} cancelled");
                break;
            case CancelFailed failed:
                LogCancelFailed(logger, app, id, failed.Error);
                events?.Add(AgentEventKind.Registration, $"Could not cancel the lease of {app}/{id}: {failed.Error}");
                break;
        }
    }

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "Registered {App}/{InstanceId} with {Server} as {Status}")]
    private static partial void LogRegistered(ILogger logger, string app, string instanceId, string server, string status);

    [LoggerMessage(EventId = 211, Level = LogLevel.Information, Message = "Eureka status of {App}/{InstanceId}: {Previous} -> {Status} (by {Operation})")]
    private static partial void LogStatusSent(ILogger logger, string app, string instanceId, string previous, string status, string operation);

    [LoggerMessage(EventId = 212, Level = LogLevel.Warning, Message = "Eureka {Server} does not know this lease ({Operation} answered 404): registering again")]
    private static partial void LogLeaseUnknown(ILogger logger, string operation, string server);

    [LoggerMessage(EventId = 213, Level = LogLevel.Warning, Message = "Eureka {Operation} of {App}/{InstanceId} failed on every server ({Error}); retrying in {Delay}")]
    private static partial void LogFailed(ILogger logger, string operation, string app, string instanceId, string error, string delay);

    [LoggerMessage(EventId = 214, Level = LogLevel.Information, Message = "Status change to {Status} rate-limited; sending it at {NextAt:O}")]
    private static partial void LogRateLimited(ILogger logger, string status, DateTimeOffset nextAt);

    [LoggerMessage(EventId = 221, Level = LogLevel.Warning, Message = "Eureka {Operation} of {App}/{InstanceId} failed on every server ({Error}); not retried: shutting down")]
    private static partial void LogFailedAtShutdown(ILogger logger, string operation, string app, string instanceId, string error);

    [LoggerMessage(EventId = 216, Level = LogLevel.Information, Message = "Cancelled the lease of {App}/{InstanceId} on {Server}")]
    private static partial void LogCancelled(ILogger logger, string app, string instanceId, string server);

    [LoggerMessage(EventId = 217, Level = LogLevel.Warning, Message = "Could not cancel the lease of {App}/{InstanceId}: {Error}; Eureka will expire it")]
    private static partial void LogCancelFailed(ILogger logger, string app, string instanceId, string error);

    [LoggerMessage(EventId = 219, Level = LogLevel.Warning, Message = "Eureka {Server} kept a status override {Status} of {App}/{InstanceId} that this agent set before this start (a previous run that did not cancel its lease): removing it. To take the instance out of service, use PUT /v1/registration/status")]
    private static partial void LogInheritedOverride(ILogger logger, string server, string status, string app, string instanceId);

    [LoggerMessage(EventId = 233, Level = LogLevel.Warning, Message = "Eureka {Server} holds a status override {Status} of {App}/{InstanceId} that this agent did not set (an operator's?): left in place, so the instance stays {Status} whatever its health until the override is removed (DELETE apps/{App}/{InstanceId}/status on Eureka)")]
    private static partial void LogOperatorOverride(ILogger logger, string server, string status, string app, string instanceId);

    [LoggerMessage(EventId = 222, Level = LogLevel.Warning, Message = "Could not read {App}/{InstanceId} back from Eureka in {Attempts} attempts ({Error}): an override kept from before this start, if any, stays")]
    private static partial void LogReadBackGivenUp(ILogger logger, string app, string instanceId, int attempts, string error);
}

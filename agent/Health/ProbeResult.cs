using Sidecar.Eureka;
namespace Sidecar.Health;

/// <summary>What one probe of the app saw.</summary>
/// <param name="Healthy">A 2xx answer whose body (if JSON with a <c>status</c>) did not say otherwise.</param>
/// <param name="ReportedStatus">The status the app's JSON body declared, when it declared one.</param>
/// <param name="StatusCode">The HTTP status code, when an answer arrived.</param>
/// <param name="Detail">A short human text: <c>200 OK</c>, <c>connection refused</c>, <c>timed out after 2s</c>.</param>
/// <param name="Duration">How long the probe took.</param>
internal sealed record ProbeResult(bool Healthy, InstanceStatus? ReportedStatus, int? StatusCode, string Detail, TimeSpan Duration)
{
    public static ProbeResult Failure(string detail, TimeSpan duration, int? statusCode = null) =>
        new(false, null, statusCode, detail, duration);
}

/// <summary>One probe as the status page shows it: when it finished, what it saw, and the status that followed.</summary>
internal sealed record ProbeRecord(DateTimeOffset Time, ProbeResult Result, InstanceStatus Status);

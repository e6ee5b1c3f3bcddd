using System.Diagnostics.CodeAnalysis;

namespace Sidecar.Eureka;

/// <summary>What came of one Eureka operation after failover.</summary>
/// <param name="Accepted">A server gave an answer that is not a reason to try another server (see <see cref="EurekaHttpClient"/>).</param>
/// <param name="StatusCode">The last HTTP status seen; 0 when no server answered at all.</param>
/// <param name="Server">The server that gave the accepted answer, or the last one tried.</param>
/// <param name="Body">The answer's body (registry fetches), empty otherwise.</param>
/// <param name="Error">Why the last attempt failed, for logs: <c>connection refused</c>, <c>500 Internal Server Error</c>.</param>
internal sealed record EurekaResponse([property: MemberNotNullWhen(true, "Server")] bool Accepted, int StatusCode, EurekaEndpoint? Server, byte[] Body, string? Error)
{
    /// <summary>An accepted 2xx answer.</summary>
    [MemberNotNullWhen(true, nameof(Server))]
    public bool Succeeded => Accepted && StatusCode is >= 200 and < 300;

    /// <summary>An accepted 404: the server does not know the lease (renew, status calls) and the client must register again.</summary>
    public bool NotFound => Accepted && StatusCode == 404;

    /// <summary>A short text for logs and readiness.</summary>
    public string Describe() => Error ?? StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>The operations of the Eureka REST API the agent uses; the failover rules depend on it.</summary>
internal enum EurekaOperation
{
    Register,
    Renew,
    Cancel,
    StatusUpdate,
    DeleteStatusOverride,
    GetApplications,
    GetDelta,
    GetInstance,
}

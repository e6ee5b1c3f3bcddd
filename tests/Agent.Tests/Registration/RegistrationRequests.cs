using Sidecar.Tests.Fakes;

namespace Sidecar.Tests.Registration;

/// <summary>The requests of the registration that the fake Eureka recorded, by kind.</summary>
internal static class RegistrationRequests
{
    /// <summary>Renewals: the PUTs that are not status overrides.</summary>
    public static List<RecordedRequest> Renewals(FakeEureka eureka) =>
        [.. eureka.RequestsFor("PUT").Where(r => !r.Path.EndsWith("/status", StringComparison.Ordinal))];
}

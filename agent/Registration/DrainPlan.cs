namespace Sidecar.Registration;

/// <summary>The drain at SIGTERM, once OUT_OF_SERVICE was sent (docs/operations.md#timing).</summary>
/// <param name="Drains">False: no drain (never registered, the app already gone, the agent never finished starting, a drain of 0).</param>
/// <param name="Remaining">How long to drain; zero or less when the app's own OUT_OF_SERVICE already lasted the whole drain.</param>
/// <param name="Already">How long the app's own OUT_OF_SERVICE was in Eureka before the stop (zero when it was not).</param>
/// <param name="InEureka">OUT_OF_SERVICE is in Eureka; false when every server failed (or the lease is not known to exist).</param>
/// <param name="Why">When not in Eureka: why, for the log line.</param>
internal sealed record DrainPlan(bool Drains, TimeSpan Remaining, TimeSpan Already, bool InEureka, string Why);

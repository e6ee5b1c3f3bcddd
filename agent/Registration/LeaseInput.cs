namespace Sidecar.Registration;

/// <summary>What the lease's rules see of the world when asked: the status Eureka should hold, whether the agent is draining, the time.</summary>
/// <param name="Desired">OUT_OF_SERVICE (an override) while the app set it, declared it or the agent drains; else the app's health.</param>
/// <param name="Draining">The agent is shutting down: its OUT_OF_SERVICE goes at once, and it does not count as the app's own.</param>
/// <param name="Now">The time of the question.</param>
internal readonly record struct LeaseInput(LeaseStatus Desired, bool Draining, DateTimeOffset Now);

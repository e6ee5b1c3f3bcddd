namespace Sidecar.Registration;

/// <summary>A decision of <see cref="LeaseDecider"/>: the state from now on, what to do next, and what to say about it.</summary>
internal sealed record LeaseDecision(LeaseState State, LeaseAction Action, IReadOnlyList<LeaseNote> Notes);

namespace Sidecar.Registration;

/// <summary>What SIGTERM decided.</summary>
/// <param name="Drains">Whether the agent drains at all.</param>
/// <param name="OutOfServiceBefore">Since when the app's own OUT_OF_SERVICE was in Eureka before the stop: the drain is shortened by that.</param>
/// <param name="CancelAt">When the lease will be cancelled: a failed call is not retried after it.</param>
internal sealed record LeaseStop(bool Drains, DateTimeOffset? OutOfServiceBefore, DateTimeOffset CancelAt);

using Sidecar.Eureka;

namespace Sidecar.DevRegistry;

/// <summary>
/// Netflix's status rules as the dev registry and the tests' fake Eureka apply them
/// (docs/eureka.md#server-rules-dev-registry-and-fake): which status an instance holds, given what its
/// client says, the server's override and what it held before; which lastDirtyTimestamp wins; how a
/// status query value is read. No I/O, no state.
/// </summary>
internal static class EurekaStatusRules
{
    /// <summary>
    /// A client status of DOWN, STARTING or UNKNOWN wins; otherwise an override wins; otherwise an
    /// existing UP or OUT_OF_SERVICE is kept (a client cannot move itself between those two: that is
    /// what the override API is for); otherwise the client's.
    /// </summary>
    public static InstanceStatus Resolve(InstanceStatus client, InstanceStatus? overridden, InstanceStatus? existing)
    {
        if (client is not (InstanceStatus.Up or InstanceStatus.OutOfService))
        {
            return client;
        }

        if (overridden is { } value)
        {
            return value;
        }

        return existing is InstanceStatus.Up or InstanceStatus.OutOfService ? existing.Value : client;
    }

    /// <summary>Netflix keeps the instance it has when its lastDirtyTimestamp is newer than the registrant's.</summary>
    public static bool KeepsExisting(long existingDirty, long registrantDirty) => existingDirty > registrantDirty;

    /// <summary>The override a registration leaves on the server: the server's own, else the one the client carries (UNKNOWN is none).</summary>
    public static InstanceStatus? OverrideAfterRegister(InstanceStatus? server, InstanceStatus client) =>
        server ?? (client != InstanceStatus.Unknown ? client : null);

    /// <summary>A renew fails (404) when the client knows something newer than the server: a status change it could not send.</summary>
    public static bool RenewAsksToRegister(long? clientDirty, long serverDirty) => clientDirty is { } dirty && dirty > serverDirty;

    /// <summary>The lastDirtyTimestamp after a status call: the client's when newer than the server's.</summary>
    public static long DirtyAfterStatusCall(long? clientDirty, long serverDirty) =>
        clientDirty is { } dirty && dirty > serverDirty ? dirty : serverDirty;

    /// <summary>Eureka's status query values are case-sensitive (Netflix's <c>InstanceStatus.valueOf</c>).</summary>
    public static bool TryParseExact(string? value, out InstanceStatus status)
    {
        (var ok, status) = value switch
        {
            "UP" => (true, InstanceStatus.Up),
            "DOWN" => (true, InstanceStatus.Down),
            "STARTING" => (true, InstanceStatus.Starting),
            "OUT_OF_SERVICE" => (true, InstanceStatus.OutOfService),
            "UNKNOWN" => (true, InstanceStatus.Unknown),
            _ => (false, InstanceStatus.Unknown),
        };
        return ok;
    }
}

namespace Sidecar.Eureka;

/// <summary>Eureka's instance statuses; the names are the wire values (upper case when written).</summary>
internal enum InstanceStatus
{
    Unknown,
    Starting,
    Up,
    Down,
    OutOfService,
}

internal static class InstanceStatusNames
{
    public static string ToWire(this InstanceStatus status) => status switch
    {
        InstanceStatus.Up => "UP",
        InstanceStatus.Down => "DOWN",
        InstanceStatus.Starting => "STARTING",
        InstanceStatus.OutOfService => "OUT_OF_SERVICE",
        _ => "UNKNOWN",
    };

    /// <summary>Parses a wire status. Case-insensitive here; Eureka's own endpoints are case-sensitive and say so where it matters.</summary>
    public static bool TryParse(string? text, out InstanceStatus status)
    {
        status = text?.Trim().ToUpperInvariant() switch
        {
            "UP" => InstanceStatus.Up,
            "DOWN" => InstanceStatus.Down,
            "STARTING" => InstanceStatus.Starting,
            "OUT_OF_SERVICE" => InstanceStatus.OutOfService,
            "UNKNOWN" => InstanceStatus.Unknown,
            _ => (InstanceStatus)(-1),
        };
        return Enum.IsDefined(status);
    }
}

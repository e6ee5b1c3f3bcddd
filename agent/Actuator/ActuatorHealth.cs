using Sidecar.Health;

namespace Sidecar.Actuator;

/// <summary>One component of Spring Boot's health: a status and its details (strings, numbers, booleans or null).</summary>
internal sealed record HealthComponent(string Status, IReadOnlyList<KeyValuePair<string, object?>> Details);

/// <summary>Spring Boot's health: the aggregate status and the components, by name.</summary>
internal sealed record HealthDocument(string Status, IReadOnlyDictionary<string, HealthComponent> Components)
{
    /// <summary>Spring Boot's <c>SimpleHttpCodeStatusMapper</c>: 503 for DOWN and OUT_OF_SERVICE, 200 otherwise.</summary>
    public int HttpStatus => ActuatorHealth.HttpStatus(Status);
}

/// <summary>
/// The agent's health in Spring Boot's terms (docs/actuator.md#health), with no I/O: the report of
/// <c>/v1/health</c> in, the <c>status</c> and <c>components</c> out. The app's component carries its
/// health as probed (STARTING, before the first good probe, is OUT_OF_SERVICE, as Spring's readiness
/// state REFUSING_TRAFFIC); each readiness check is UP when ready, OUT_OF_SERVICE when not ready and
/// required (<c>SIDECAR_READINESS</c>), UNKNOWN when not ready and not required, so it does not count.
/// The aggregate is Spring Boot's <c>SimpleStatusAggregator</c>: DOWN, then OUT_OF_SERVICE, then UP, then UNKNOWN.
/// </summary>
internal static class ActuatorHealth
{
    public const string Up = "UP";
    public const string Down = "DOWN";
    public const string OutOfService = "OUT_OF_SERVICE";
    public const string Unknown = "UNKNOWN";

    private static readonly string[] Order = [Down, OutOfService, Up, Unknown];

    /// <summary>The app's Eureka status as a Spring Boot status.</summary>
    public static string AppStatus(string eurekaStatus) => eurekaStatus switch
    {
        "UP" => Up,
        "DOWN" => Down,
        "OUT_OF_SERVICE" or "STARTING" => OutOfService,
        _ => Unknown,
    };

    public static string CheckStatus(bool ready, bool required) => ready ? Up : required ? OutOfService : Unknown;

    /// <summary>The first status of <see cref="Order"/> present; statuses it does not know are left out; none is UNKNOWN.</summary>
    public static string Aggregate(IEnumerable<string> statuses)
    {
        var best = Order.Length;
        foreach (var status in statuses)
        {
            var index = Array.IndexOf(Order, status);
            if (index >= 0 && index < best)
            {
                best = index;
            }
        }

        return best < Order.Length ? Order[best] : Unknown;
    }

    public static int HttpStatus(string status) => status is Down or OutOfService ? 503 : 200;

    /// <summary>The whole health: one component per entry of the report (<c>app</c> first in the report, sorted by name here as Spring does).</summary>
    public static HealthDocument Build(HealthReport report)
    {
        var components = new SortedDictionary<string, HealthComponent>(StringComparer.Ordinal);
        foreach (var check in report.Checks)
        {
            components[check.Name] = check.Name == "app" ? App(report) : new HealthComponent(
                CheckStatus(check.Ready, check.Required),
                [new("detail", check.Detail), new("required", check.Required)]);
        }

        return new HealthDocument(Aggregate(components.Values.Select(c => c.Status)), components);
    }

    /// <summary>Spring's liveness group: the agent answers, so it is live (as <c>/v1/health/live</c>).</summary>
    public static HealthDocument Liveness() => new(Up, new Dictionary<string, HealthComponent>());

    /// <summary>Spring's readiness group: UP when <c>/v1/health/ready</c> is ready, OUT_OF_SERVICE otherwise.</summary>
    public static HealthDocument Readiness(HealthReport report) => new(report.Ready ? Up : OutOfService, new Dictionary<string, HealthComponent>());

    private static HealthComponent App(HealthReport report)
    {
        var details = new List<KeyValuePair<string, object?>> { new("status", report.Status) };
        if (report.Probe is not null)
        {
            details.Add(new("probe", report.Probe));
            details.Add(new("lastProbeResult", report.LastProbeResult));
            details.Add(new("consecutiveFailures", report.ConsecutiveFailures));
        }

        return new HealthComponent(AppStatus(report.Status), details);
    }
}

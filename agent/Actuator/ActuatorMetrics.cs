namespace Sidecar.Actuator;

/// <summary>One measurement of a metric: Spring's statistic (COUNT, TOTAL, TOTAL_TIME, VALUE) and its value.</summary>
internal sealed record MetricMeasurement(string Statistic, double Value);

/// <summary>A tag and the values it takes among the series asked for.</summary>
internal sealed record MetricTag(string Tag, IReadOnlyList<string> Values);

/// <summary>The body of <c>metrics/{name}</c>, Spring Boot's <c>MetricDescriptor</c>.</summary>
internal sealed record MetricDocument(string Name, string? Description, string? BaseUnit, IReadOnlyList<MetricMeasurement> Measurements, IReadOnlyList<MetricTag> AvailableTags);

/// <summary>
/// The agent's Prometheus families in the shape of Spring Boot's <c>metrics</c> endpoint (docs/actuator.md#metrics),
/// with no I/O. Names go back the way Micrometer's Prometheus naming came: <c>_total</c> of a counter and a unit
/// suffix (<c>_seconds</c>, <c>_bytes</c>, which becomes the base unit) dropped, <c>_</c> read as <c>.</c>
/// (<c>sidecar_forward_requests_total</c> is <c>sidecar.forward.requests</c>). The series of a name, filtered by
/// <c>tag=key:value</c>, are summed per statistic, as Spring's endpoint merges meters: a counter is COUNT, a
/// gauge VALUE, a histogram COUNT and TOTAL_TIME (TOTAL when not in seconds).
/// </summary>
internal static class ActuatorMetrics
{
    private static readonly (string Suffix, string Unit)[] Units = [("_seconds", "seconds"), ("_bytes", "bytes")];

    /// <summary>Labels that are a histogram's or summary's structure, not tags.</summary>
    private static readonly string[] NotTags = ["le", "quantile"];

    public static (string Name, string? BaseUnit) SpringName(PrometheusFamily family)
    {
        var name = family.Name;
        if (family.Type == "counter" && name.EndsWith("_total", StringComparison.Ordinal))
        {
            name = name[..^"_total".Length];
        }

        string? unit = null;
        foreach (var (suffix, baseUnit) in Units)
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && name.Length > suffix.Length)
            {
                name = name[..^suffix.Length];
                unit = baseUnit;
                break;
            }
        }

        return (name.Replace('_', '.'), unit);
    }

    /// <summary>The body of <c>metrics</c>: every name, sorted.</summary>
    public static IReadOnlyList<string> Names(IEnumerable<PrometheusFamily> families) =>
        families.Select(f => SpringName(f).Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>Reads <c>tag=key:value</c> parameters; null with the bad one when one has no <c>:</c>.</summary>
    public static (IReadOnlyList<KeyValuePair<string, string>>? Tags, string? Bad) ParseTags(IEnumerable<string?> parameters)
    {
        var tags = new List<KeyValuePair<string, string>>();
        foreach (var parameter in parameters)
        {
            var colon = parameter?.IndexOf(':', StringComparison.Ordinal) ?? -1;
            if (parameter is null || colon <= 0)
            {
                return (null, parameter ?? "");
            }

            tags.Add(new(parameter[..colon], parameter[(colon + 1)..]));
        }

        return (tags, null);
    }

    /// <summary>The metric of that name, its series filtered by <paramref name="tags"/>; null when no series matches (404, as Spring).</summary>
    public static MetricDocument? Metric(IEnumerable<PrometheusFamily> families, string name, IReadOnlyList<KeyValuePair<string, string>> tags)
    {
        var family = families.FirstOrDefault(f => SpringName(f).Name == name);
        if (family is null)
        {
            return null;
        }

        var (_, unit) = SpringName(family);
        var matching = family.Samples.Where(s => tags.All(t => s.Labels.Any(l => l.Key == t.Key && l.Value == t.Value))).ToList();
        if (matching.Count == 0)
        {
            return null;
        }

        var measurements = family.Type switch
        {
            "counter" => [new MetricMeasurement("COUNT", Sum(matching, family.Name))],
            "histogram" or "summary" =>
            [
                new MetricMeasurement("COUNT", Sum(matching, family.Name + "_count")),
                new MetricMeasurement(unit == "seconds" ? "TOTAL_TIME" : "TOTAL", Sum(matching, family.Name + "_sum")),
            ],
            _ => new List<MetricMeasurement> { new("VALUE", Sum(matching, family.Name)) },
        };

        var available = matching.SelectMany(s => s.Labels)
            .Where(l => Array.IndexOf(NotTags, l.Key) < 0 && !tags.Any(t => t.Key == l.Key))
            .GroupBy(l => l.Key, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new MetricTag(g.Key, g.Select(l => l.Value).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList()))
            .ToList();
        return new MetricDocument(name, family.Help.Length > 0 ? family.Help : null, unit, measurements, available);
    }

    private static double Sum(List<PrometheusSample> samples, string sampleName) =>
        samples.Where(s => s.Name == sampleName).Sum(s => s.Value);
}

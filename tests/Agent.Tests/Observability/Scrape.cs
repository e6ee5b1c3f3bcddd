using System.Globalization;
using System.Text.RegularExpressions;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Observability;

/// <summary>One sample of a scrape: metric name, labels, value.</summary>
public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>
/// A strict reader of the Prometheus text format (0.0.4) as the agent writes it: every line is a
/// comment with HELP/TYPE or a well-formed sample, each family is declared once before its samples,
/// no series appears twice. Tests read values with <see cref="Value"/> (0 for an absent series).
/// </summary>
public sealed partial class Scrape
{
    private Scrape(string text, List<Sample> samples, Dictionary<string, string> types)
    {
        Text = text;
        Samples = samples;
        Types = types;
    }

    public string Text { get; }

    public IReadOnlyList<Sample> Samples { get; }

    /// <summary>Family name to its TYPE.</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    public static async Task<Scrape> TakeAsync(AgentHarness agent)
    {
        using var response = await agent.Client.GetAsync("metrics");
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        return Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>A scrape taken in-process, without the HTTP round trip (for a polling predicate).</summary>
    internal static Scrape Of(Sidecar.Observability.PrometheusMetrics metrics) => Task.Run(async () =>
    {
        using var body = new MemoryStream();
        await metrics.WriteAsync(body, CancellationToken.None);
        return Parse(System.Text.Encoding.UTF8.GetString(body.ToArray()));
    }).GetAwaiter().GetResult();

    public static Scrape Parse(string text)
    {
        var samples = new List<Sample>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var helps = new HashSet<string>(StringComparer.Ordinal);
        var series = new HashSet<string>(StringComparer.Ordinal);
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        foreach (var line in text.TrimEnd('\n').Split('\n'))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                Assert.True(helps.Add(line.Split(' ')[2]), $"one HELP per family: {line}");
                continue;
            }

            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                Assert.Contains(parts[3], new[] { "counter", "gauge", "histogram" });
                Assert.True(types.TryAdd(parts[2], parts[3]), $"one TYPE per family: {line}");
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"a well-formed sample: {line}");
            var name = match.Groups["name"].Value;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match label in LabelPair().Matches(match.Groups["labels"].Value))
            {
                labels.Add(label.Groups["k"].Value, Unescape(label.Groups["v"].Value));
            }

            var family = types.Keys.FirstOrDefault(f => name == f || (types[f] == "histogram" && (name == f + "_bucket" || name == f + "_sum" || name == f + "_count")));
            Assert.True(family is not null, $"{name} is declared by a TYPE line before its samples");
            var key = name + "{" + string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
            Assert.True(series.Add(key), $"series {key} appears once");
            var raw = match.Groups["value"].Value;
            var value = raw == "+Inf" ? double.PositiveInfinity : double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
            samples.Add(new Sample(name, labels, value));
        }

        return new Scrape(text, samples, types);
    }

    /// <summary>The value of the series with exactly these labels; 0 when absent.</summary>
    public double Value(string name, params (string Key, string Value)[] labels) =>
        Samples.FirstOrDefault(s => s.Name == name && s.Labels.Count == labels.Length && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value))?.Value ?? 0;

    public bool Has(string name) => Samples.Any(s => s.Name == name);

    private static string Unescape(string value) => value.Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*)\})? (?<value>[-+0-9.eE]+|\+Inf|NaN)$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex("(?<k>[a-zA-Z_][a-zA-Z0-9_]*)=\"(?<v>([^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex LabelPair();
}

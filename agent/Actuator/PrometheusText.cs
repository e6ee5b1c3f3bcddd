using System.Globalization;
using System.Text;

namespace Sidecar.Actuator;

/// <summary>One sample line: its name (<c>x_bucket</c>, <c>x_sum</c>... for a histogram), labels and value.</summary>
internal sealed record PrometheusSample(string Name, IReadOnlyList<KeyValuePair<string, string>> Labels, double Value);

/// <summary>One metric family: the name of its <c># TYPE</c> line, its type, help and samples.</summary>
internal sealed record PrometheusFamily(string Name, string Type, string Help, IReadOnlyList<PrometheusSample> Samples);

/// <summary>
/// Reads the Prometheus text format (0.0.4) the agent writes for <c>/metrics</c>, with no I/O, so the
/// <c>metrics</c> endpoint shows the same numbers in Spring's shape (docs/actuator.md#metrics). Lines it
/// cannot read are skipped: the input is the agent's own output, not a stranger's.
/// </summary>
internal static class PrometheusText
{
    private static readonly string[] Suffixes = ["_bucket", "_sum", "_count"];

    public static IReadOnlyList<PrometheusFamily> Parse(string text)
    {
        var order = new List<string>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var helps = new Dictionary<string, string>(StringComparer.Ordinal);
        var samples = new Dictionary<string, List<PrometheusSample>>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var rest = line[7..];
                var space = rest.IndexOf(' ', StringComparison.Ordinal);
                var name = space < 0 ? rest : rest[..space];
                var value = space < 0 ? "" : rest[(space + 1)..];
                if (!samples.ContainsKey(name))
                {
                    order.Add(name);
                    samples[name] = [];
                }

                if (line[2] == 'H')
                {
                    helps[name] = Unescape(value);
                }
                else
                {
                    types[name] = value.Trim();
                }
            }
            else if (line.Length > 0 && line[0] != '#' && TryParseSample(line, out var sample))
            {
                var family = FamilyOf(sample.Name, samples);
                if (family is null)
                {
                    order.Add(sample.Name);
                    samples[sample.Name] = family = [];
                }

                family.Add(sample);
            }
        }

        return order.ConvertAll(name => new PrometheusFamily(name, types.GetValueOrDefault(name, "untyped"), helps.GetValueOrDefault(name, ""), samples[name]));
    }

    private static List<PrometheusSample>? FamilyOf(string sampleName, Dictionary<string, List<PrometheusSample>> families)
    {
        if (families.TryGetValue(sampleName, out var exact))
        {
            return exact;
        }

        foreach (var suffix in Suffixes)
        {
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal) && families.TryGetValue(sampleName[..^suffix.Length], out var family))
            {
                return family;
            }
        }

        return null;
    }

    /// <summary><c>name{a="x",b="y"} value [timestamp]</c>.</summary>
    internal static bool TryParseSample(string line, out PrometheusSample sample)
    {
        sample = null!;
        var i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ')
        {
            i++;
        }

        var name = line[..i];
        var labels = new List<KeyValuePair<string, string>>();
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (i < line.Length && line[i] != '}')
            {
                var equals = line.IndexOf('=', i);
                if (equals < 0 || equals + 1 >= line.Length || line[equals + 1] != '"')
                {
                    return false;
                }

                var labelName = line[i..equals].Trim(' ', ',');
                var value = new StringBuilder();
                var j = equals + 2;
                for (; j < line.Length && line[j] != '"'; j++)
                {
                    if (line[j] == '\\' && j + 1 < line.Length)
                    {
                        j++;
                        value.Append(line[j] == 'n' ? '\n' : line[j]);
                    }
                    else
                    {
                        value.Append(line[j]);
                    }
                }

                if (j >= line.Length)
                {
                    return false;
                }

                labels.Add(new(labelName, value.ToString()));
                i = j + 1;
                while (i < line.Length && line[i] == ',')
                {
                    i++;
                }
            }

            i++; // the '}'
        }

        var fields = i < line.Length ? line[i..].Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
        if (name.Length == 0 || fields.Length == 0 || !TryParseValue(fields[0], out var number))
        {
            return false;
        }

        sample = new PrometheusSample(name, labels, number);
        return true;
    }

    private static bool TryParseValue(string text, out double value)
    {
        switch (text)
        {
            case "+Inf": value = double.PositiveInfinity; return true;
            case "-Inf": value = double.NegativeInfinity; return true;
            case "NaN": value = double.NaN; return true;
            default: return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }

    private static string Unescape(string text)
    {
        if (!text.Contains('\\', StringComparison.Ordinal))
        {
            return text;
        }

        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] is 'n' or '\\')
            {
                i++;
                result.Append(text[i] == 'n' ? '\n' : text[i]);
            }
            else
            {
                result.Append(text[i]);
            }
        }

        return result.ToString();
    }
}

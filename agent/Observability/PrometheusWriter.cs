using System.Globalization;
using System.Text;

namespace Sidecar.Observability;

/// <summary>
/// The Prometheus text exposition format, version 0.0.4: per family one <c># HELP</c> and one
/// <c># TYPE</c> line, then its samples; label values escaped (backslash, quote, newline).
/// Small on purpose: the agent's metrics are a fixed set written from Interlocked cells.
/// </summary>
internal sealed class PrometheusWriter
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text = new(8192);

    public void Family(string name, string type, string help)
    {
        _text.Append("# HELP ").Append(name).Append(' ');
        foreach (var c in help)
        {
            _ = c switch
            {
                '\\' => _text.Append(@"\\"),
                '\n' => _text.Append(@"\n"),
                _ => _text.Append(c),
            };
        }

        _text.Append('\n').Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    public void Sample(string name, double value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        _text.Append(name);
        if (labels.Length > 0)
        {
            _text.Append('{');
            for (var i = 0; i < labels.Length; i++)
            {
                if (i > 0)
                {
                    _text.Append(',');
                }

                _text.Append(labels[i].Name).Append("=\"");
                AppendEscaped(labels[i].Value);
                _text.Append('"');
            }

            _text.Append('}');
        }

        _text.Append(' ').Append(Format(value)).Append('\n');
    }

    /// <summary>The <c>_bucket</c>, <c>_sum</c> and <c>_count</c> samples of one histogram series.</summary>
    public void Histogram(string name, HistogramSnapshot snapshot, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        Span<(string, string)> withLe = new (string, string)[labels.Length + 1];
        labels.CopyTo(withLe);
        for (var i = 0; i < snapshot.Cumulative.Length; i++)
        {
            withLe[^1] = ("le", i < snapshot.Bounds.Count ? Format(snapshot.Bounds[i]) : "+Inf");
            Sample(name + "_bucket", snapshot.Cumulative[i], withLe);
        }

        Sample(name + "_sum", snapshot.Sum, labels);
        Sample(name + "_count", snapshot.Count, labels);
    }

    public override string ToString() => _text.ToString();

    private static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" :
        double.IsNegativeInfinity(value) ? "-Inf" :
        double.IsNaN(value) ? "NaN" :
        value.ToString("R", CultureInfo.InvariantCulture);

    private void AppendEscaped(string value)
    {
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => _text.Append(@"\\"),
                '"' => _text.Append("\\\""),
                '\n' => _text.Append(@"\n"),
                _ => _text.Append(c),
            };
        }
    }
}

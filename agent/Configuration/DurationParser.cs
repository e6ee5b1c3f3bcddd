using System.Globalization;

namespace Sidecar.Configuration;

/// <summary>Durations as users write them in container specs: <c>500ms</c>, <c>5s</c>, <c>2m</c>, <c>1h</c>, or TimeSpan text.</summary>
internal static class DurationParser
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = default;
        var value = text.Trim();
        if (value.Length == 0)
        {
            return false;
        }

        // TimeSpan text needs a colon: a bare "5" would otherwise mean five days.
        if (value.Contains(':', StringComparison.Ordinal))
        {
            return TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out duration);
        }

        var (number, unit) = Split(value);
        if (!double.TryParse(number, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount) ||
            double.IsNaN(amount) || double.IsInfinity(amount))
        {
            return false;
        }

        double? milliseconds = unit.ToLowerInvariant() switch
        {
            "ms" => amount,
            "s" => amount * 1_000,
            "m" => amount * 60_000,
            "h" => amount * 3_600_000,
            "d" => amount * 86_400_000,
            _ => null,
        };

        if (milliseconds is not { } ms || Math.Abs(ms) > TimeSpan.MaxValue.TotalMilliseconds / 2)
        {
            return false;
        }

        duration = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    public static TimeSpan Parse(string text) =>
        TryParse(text, out var duration) ? duration : throw new FormatException($"'{text}' is not a duration");

    /// <summary>The shortest of the accepted spellings, for messages and the docs (<c>5s</c>, <c>500ms</c>).</summary>
    public static string Format(TimeSpan duration)
    {
        if (duration == TimeSpan.Zero)
        {
            return "0s";
        }

        var ms = duration.TotalMilliseconds;
        if (ms % 3_600_000 == 0)
        {
            return $"{(long)(ms / 3_600_000)}h";
        }

        if (ms % 60_000 == 0)
        {
            return $"{(long)(ms / 60_000)}m";
        }

        if (ms % 1_000 == 0)
        {
            return $"{(long)(ms / 1_000)}s";
        }

        return string.Create(CultureInfo.InvariantCulture, $"{ms}ms");
    }

    private static (string Number, string Unit) Split(string value)
    {
        var i = value.Length;
        while (i > 0 && char.IsAsciiLetter(value[i - 1]))
        {
            i--;
        }

        return (value[..i].Trim(), value[i..]);
    }
}

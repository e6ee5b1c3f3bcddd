using System.Globalization;

namespace Sidecar.Forwarding.Grpc;

/// <summary>
/// The <c>grpc-timeout</c> header (gRPC over HTTP/2: up to 8 ASCII digits and a unit, <c>H</c> hours,
/// <c>M</c> minutes, <c>S</c> seconds, <c>m</c> milliseconds, <c>u</c> microseconds, <c>n</c>
/// nanoseconds), read and written with no I/O (docs/grpc.md#deadlines).
/// </summary>
internal static class GrpcTimeout
{
    public const string Name = "grpc-timeout";

    /// <summary>The longest value <see cref="Format"/> writes in each unit: 8 digits.</summary>
    private const long MaxDigits = 99_999_999;

    /// <summary>True and the duration when <paramref name="value"/> is a valid <c>grpc-timeout</c>; false otherwise.</summary>
    public static bool TryParse(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (value is null || value.Length is < 2 or > 9)
        {
            return false;
        }

        var digits = value.AsSpan(0, value.Length - 1);
        foreach (var c in digits)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        var amount = long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        var ticks = value[^1] switch
        {
            'H' => amount * TimeSpan.TicksPerHour,
            'M' => amount * TimeSpan.TicksPerMinute,
            'S' => amount * TimeSpan.TicksPerSecond,
            'm' => amount * TimeSpan.TicksPerMillisecond,
            'u' => amount * TimeSpan.TicksPerMicrosecond,
            'n' => amount / 100, // a tick is 100 ns
            _ => -1L,
        };
        if (ticks < 0)
        {
            return false;
        }

        timeout = TimeSpan.FromTicks(ticks);
        return true;
    }

    /// <summary>
    /// What is left of a deadline as a <c>grpc-timeout</c> value: the finest unit that fits in 8 digits,
    /// rounded down (the instance must not think it has more time than the agent gives it).
    /// </summary>
    public static string Format(TimeSpan remaining)
    {
        var ticks = Math.Max(0, remaining.Ticks);
        if (ticks <= MaxDigits / 100)
        {
            return (ticks * 100).ToString(CultureInfo.InvariantCulture) + "n";
        }

        (long PerUnit, char Unit)[] units =
        [
            (TimeSpan.TicksPerMicrosecond, 'u'), (TimeSpan.TicksPerMillisecond, 'm'), (TimeSpan.TicksPerSecond, 'S'),
            (TimeSpan.TicksPerMinute, 'M'), (TimeSpan.TicksPerHour, 'H'),
        ];
        foreach (var (perUnit, unit) in units)
        {
            var amount = ticks / perUnit;
            if (amount <= MaxDigits)
            {
                return amount.ToString(CultureInfo.InvariantCulture) + unit;
            }
        }

        return MaxDigits.ToString(CultureInfo.InvariantCulture) + "H";
    }
}

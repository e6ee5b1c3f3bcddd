using System.Globalization;
using Sidecar.Configuration;

namespace Sidecar.Forwarding;

/// <summary>Sizes as users write them: <c>1048576</c>, <c>512KiB</c>, <c>100MiB</c>, <c>1GiB</c> (binary) or <c>10MB</c> (decimal).</summary>
internal static class ByteSize
{
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        var value = text.Trim();
        var i = value.Length;
        while (i > 0 && char.IsAsciiLetter(value[i - 1]))
        {
            i--;
        }

        long multiplier = value[i..].ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "KIB" => 1L << 10,
            "MIB" => 1L << 20,
            "GIB" => 1L << 30,
            "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            _ => 0,
        };

        if (multiplier == 0 || !long.TryParse(value[..i].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var number) ||
            number > long.MaxValue / multiplier)
        {
            return false;
        }

        bytes = number * multiplier;
        return true;
    }

    public static long Read(SettingsReader r, string key, long defaultValue, long max)
    {
        var value = r.String(key);
        if (value is null)
        {
            return defaultValue;
        }

        if (!TryParse(value, out var bytes) || bytes > max)
        {
            r.AddError(key, $"'{value}' is not a size up to {max} bytes (examples: 65536, 512KiB, 100MiB)");
            return defaultValue;
        }

        return bytes;
    }
}

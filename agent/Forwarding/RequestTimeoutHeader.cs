using System.Globalization;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// <c>X-Request-Timeout</c>: the caller's own deadline, in seconds (<c>2.5</c>) or the duration
/// syntax of the settings (<c>500ms</c>, <c>5s</c>, <c>1m</c>). It can only lower the configured one.
/// </summary>
internal static class RequestTimeoutHeader
{
    public const string Name = "X-Request-Timeout";

    /// <summary>False when the header is present but not a positive duration.</summary>
    public static bool TryRead(HttpRequest request, out TimeSpan? timeout) => TryRead(new CallerFields(request.Headers), out timeout);

    /// <inheritdoc cref="TryRead(HttpRequest, out TimeSpan?)"/>
    public static bool TryRead(CallerFields fields, out TimeSpan? timeout)
    {
        timeout = null;
        var values = fields[Name];
        if (values.Count == 0)
        {
            return true;
        }

        var text = values.Count == 1 ? values[0]?.Trim() : null;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        TimeSpan value;
        if (double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds))
        {
            // double.TryParse takes "NaN" whatever the styles: TimeSpan.FromSeconds would throw on it.
            if (!double.IsFinite(seconds) || seconds > TimeSpan.MaxValue.TotalSeconds / 2)
            {
                return false;
            }

            value = TimeSpan.FromSeconds(seconds);
        }
        else if (!DurationParser.TryParse(text, out value))
        {
            return false;
        }

        if (value <= TimeSpan.Zero)
        {
            return false;
        }

        timeout = value;
        return true;
    }
}

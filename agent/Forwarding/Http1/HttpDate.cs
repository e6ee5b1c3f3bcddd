namespace Sidecar.Forwarding.Http1;

/// <summary>The <c>Date</c> of answers (RFC 9110 section 5.6.7), made once a second as Kestrel makes it.</summary>
internal static class HttpDate
{
    private static volatile Stamp _current = new(0, "");

    public static string Now
    {
        get
        {
            var now = DateTimeOffset.UtcNow;
            var second = now.ToUnixTimeSeconds();
            var current = _current;
            if (current.Second != second)
            {
                current = new Stamp(second, now.ToString("r", System.Globalization.CultureInfo.InvariantCulture));
                _current = current;
            }

            return current.Value;
        }
    }

    private sealed record Stamp(long Second, string Value);
}

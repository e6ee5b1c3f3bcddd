using System.Globalization;

namespace Sidecar.Actuator;

/// <summary>A media type the actuator's JSON endpoints produce, in Spring Boot's order of preference.</summary>
internal enum ActuatorMediaType
{
    /// <summary><c>application/vnd.spring-boot.actuator.v3+json</c> (Spring Boot 2.2+).</summary>
    V3,

    /// <summary><c>application/vnd.spring-boot.actuator.v2+json</c> (Spring Boot 2.0+).</summary>
    V2,

    /// <summary><c>application/json</c>.</summary>
    Json,
}

/// <summary>The shape of a body: Spring Boot's <c>ApiVersion</c>. V2 health says <c>details</c> where V3 says <c>components</c>.</summary>
internal enum ApiVersion
{
    V2,
    V3,
}

/// <summary>
/// Content negotiation as Spring Boot's actuator does it (docs/actuator.md#media-types), with no I/O: the
/// endpoints produce the v3 type, the v2 type and <c>application/json</c>, in that order; the first one the
/// <c>Accept</c> header takes wins, by quality then by the order the client listed them; no header or <c>*/*</c>
/// gets v3; nothing acceptable (every range refused with <c>q=0</c> included) is a 406. The body's <see cref="ApiVersion"/> is chosen apart, as Spring's
/// <c>ProducibleOperationArgumentResolver</c> does: V2 only when the client accepts v2 and nothing v3 takes.
/// </summary>
internal static class ActuatorMediaTypes
{
    public const string V3 = "application/vnd.spring-boot.actuator.v3+json";
    public const string V2 = "application/vnd.spring-boot.actuator.v2+json";
    public const string Json = "application/json";

    private static readonly (ActuatorMediaType Type, string Name)[] Produced = [(ActuatorMediaType.V3, V3), (ActuatorMediaType.V2, V2), (ActuatorMediaType.Json, Json)];

    public static string Name(ActuatorMediaType type) => type switch
    {
        ActuatorMediaType.V3 => V3,
        ActuatorMediaType.V2 => V2,
        _ => Json,
    };

    /// <summary>The type to answer with, or null when the client accepts none of them (406).</summary>
    public static ActuatorMediaType? Negotiate(string? accept)
    {
        if (string.IsNullOrWhiteSpace(accept))
        {
            return ActuatorMediaType.V3;
        }

        foreach (var range in Parse(accept))
        {
            foreach (var (type, name) in Produced)
            {
                if (Matches(range.Range, name))
                {
                    return type;
                }
            }
        }

        return null;
    }

    /// <summary>The body's version: V2 when a v2 range is accepted and no range takes v3.</summary>
    public static ApiVersion Version(string? accept)
    {
        var v2 = false;
        foreach (var range in Parse(accept))
        {
            if (Matches(range.Range, V3))
            {
                return ApiVersion.V3;
            }

            v2 |= Matches(range.Range, V2);
        }

        return v2 ? ApiVersion.V2 : ApiVersion.V3;
    }

    // */*, type/* or the exact type, case-insensitively (RFC 9110, 12.5.1).
    private static bool Matches(string range, string type)
    {
        if (range == "*/*")
        {
            return true;
        }

        var slash = type.IndexOf('/', StringComparison.Ordinal);
        return range.EndsWith("/*", StringComparison.Ordinal)
            ? string.Equals(range[..^2], type[..slash], StringComparison.OrdinalIgnoreCase)
            : string.Equals(range, type, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The ranges with a quality above 0, highest quality first, in the client's order among equals.</summary>
    internal static List<(string Range, double Quality)> Parse(string? accept)
    {
        var ranges = new List<(string Range, double Quality, int Order)>();
        if (string.IsNullOrWhiteSpace(accept))
        {
            return [];
        }

        foreach (var item in accept.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = item.Split(';', StringSplitOptions.TrimEntries);
            var quality = 1.0;
            foreach (var parameter in parts.AsSpan(1))
            {
                var equals = parameter.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0 && parameter[..equals].Trim().Equals("q", StringComparison.OrdinalIgnoreCase) &&
                    !double.TryParse(parameter[(equals + 1)..].Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out quality))
                {
                    quality = 0; // an unreadable weight: the range is left out
                }
            }

            if (parts[0].Contains('/', StringComparison.Ordinal) && quality > 0)
            {
                ranges.Add((parts[0], quality, ranges.Count));
            }
        }

        ranges.Sort((a, b) => a.Quality != b.Quality ? b.Quality.CompareTo(a.Quality) : a.Order.CompareTo(b.Order));
        return ranges.ConvertAll(r => (r.Range, r.Quality));
    }
}

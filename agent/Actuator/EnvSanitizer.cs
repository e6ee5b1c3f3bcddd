using System.Text.RegularExpressions;
using Sidecar.Observability;

namespace Sidecar.Actuator;

/// <summary>
/// How <c>env</c> shows a config value (docs/actuator.md#env), with no I/O. Spring Boot 2.x's <c>Sanitizer</c>
/// rules: the whole value is <c>******</c> when the key ends with <c>password</c>, <c>secret</c>, <c>key</c>,
/// <c>token</c>, <c>vcap_services</c> or <c>sun.java.command</c>, holds <c>credentials</c>, or is
/// <c>vcap.services.*</c> or <c>spring.application.json</c>. On top, what the agent hides everywhere it shows
/// config (<see cref="ConfigRedaction"/>: secret-looking keys, and secrets inside values: a URL's whole user
/// info, where Spring hides only its password, <c>Password=</c> parts, bearer tokens, JWTs).
/// With <see cref="ShowValues.Never"/> (Spring Boot 3's default) every value is masked.
/// </summary>
internal static partial class EnvSanitizer
{
    /// <summary>Spring Boot's mask.</summary>
    public const string Mask = "******";

    public static string Shown(string key, string value, ShowValues show)
    {
        if (show == ShowValues.Never || SecretKey().IsMatch(key))
        {
            return Mask;
        }

        var shown = ConfigRedaction.Shown(key, value, out var masked);
        return masked ? shown.Replace(ConfigRedaction.Mask, Mask, StringComparison.Ordinal) : shown;
    }

    [GeneratedRegex(@"(?:password|secret|key|token|vcap_services|sun\.java\.command)$|credentials|^vcap\.services|^spring[._]application[._]json$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretKey();
}

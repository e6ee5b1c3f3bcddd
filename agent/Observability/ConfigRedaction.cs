using System.Text.RegularExpressions;

namespace Sidecar.Observability;

/// <summary>
/// How a config value is shown to people (the status page and its JSON; any log line that would
/// quote one): the whole value when its key looks secret, otherwise only the secret parts of it,
/// since secrets also hide under innocent keys (docs/config-server.md#values-and-the-log:
/// secrets in config are never logged). <c>/v1/config</c> is not shown to people: it serves the real values to the app.
/// </summary>
internal static partial class ConfigRedaction
{
    /// <summary>What a secret (or a secret part of a value) is shown as: fixed, so not even its length shows.</summary>
    public const string Mask = "••••••";

    /// <summary>Key words that mark a config key as secret (the whole key is searched, case-insensitively); <see cref="SecretPart"/> spells them out too.</summary>
    internal static readonly string[] SecretWords = ["password", "passwd", "pwd", "secret", "token", "key", "credential", "private"];

    /// <summary>True when the key's name suggests a secret (password, secret, token, key, credential...).</summary>
    public static bool LooksSecret(string key)
    {
        foreach (var word in SecretWords)
        {
            if (key.Contains(word, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The value as it may be shown, and whether anything of it was hidden: all of it under a secret
    /// key; else URL user info (<c>postgres://***@db/x</c>), the value of a <c>name=value</c> part whose
    /// name looks secret (<c>Password=</c>, <c>Pwd=</c> in a connection string, <c>&amp;token=</c> in a
    /// query), the credential after <c>Bearer</c> or <c>Basic</c>, and anything shaped like a JWT.
    /// </summary>
    public static string Shown(string key, string value, out bool masked)
    {
        if (LooksSecret(key))
        {
            masked = true;
            return Mask;
        }

        var shown = value;
        if (shown.Contains("://", StringComparison.Ordinal) && shown.Contains('@', StringComparison.Ordinal))
        {
            shown = Configuration.SettingsReader.RedactUserInfo(shown);
        }

        if (shown.Contains('=', StringComparison.Ordinal))
        {
            shown = SecretPart().Replace(shown, "${head}" + Mask);
        }

        shown = Credential().Replace(shown, "${scheme}" + Mask);
        shown = Jwt().Replace(shown, Mask);
        masked = !string.Equals(shown, value, StringComparison.Ordinal);
        return shown;
    }

    // A name=value part whose name holds one of SecretWords (spelt out: the pattern must be a constant; a
    // test checks that every word is in it), at the start or after ; & ? , or a blank:
    // connection strings (Server=x;User Id=u;Password=p), query strings (?user=u&password=p), k=v lists.
    // The value runs to the next ; or & (a blank or a comma may be part of a password: masking too much
    // is the safe side), or is quoted (Password="a;b").
    [GeneratedRegex("""(?<head>(?:^|(?<=[;&?,\s]))[A-Za-z0-9_.\-]*(?:password|passwd|pwd|secret|token|key|credential|private)[A-Za-z0-9_.\-]*\s*=\s*)(?:"[^"]*"|'[^']*'|[^;&\r\n]*)""",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretPart();

    // Authorization credentials (RFC 9110 section 11.4): "Bearer <token68>", and "Basic <base64>" when
    // it has a digit, + / = or a capital past its first letter (so that "Basic setup" stays readable).
    [GeneratedRegex(@"(?<scheme>\b(?:(?i:Bearer)\s+|(?i:Basic)\s+(?=[A-Za-z0-9+/][A-Za-z0-9+/]*?[0-9+/=A-Z])))[A-Za-z0-9\-._~+/]+=*", RegexOptions.CultureInvariant)]
    private static partial Regex Credential();

    // A JSON Web Token: base64url header starting {" (eyJ), payload, optional signature (RFC 7519).
    [GeneratedRegex(@"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.?[A-Za-z0-9_\-]*", RegexOptions.CultureInvariant)]
    private static partial Regex Jwt();
}

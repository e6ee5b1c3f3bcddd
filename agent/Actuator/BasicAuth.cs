using System.Security.Cryptography;
using System.Text;

namespace Sidecar.Actuator;

/// <summary>
/// HTTP Basic auth (RFC 7617) for the actuator's protected endpoints (docs/actuator.md#security), with no I/O:
/// the <c>Authorization</c> header in, allowed or not out. The user and password are compared in constant
/// time (their SHA-256, so not even the length shows).
/// </summary>
internal static class BasicAuth
{
    /// <summary>The challenge a 401 carries.</summary>
    public const string Challenge = "Basic realm=\"actuator\", charset=\"UTF-8\"";

    public static bool Allows(string? authorization, string user, string password)
    {
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        string credentials;
        try
        {
            credentials = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
        }
        catch (FormatException)
        {
            return false;
        }

        var colon = credentials.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return false;
        }

        // Both compared, always: a wrong user takes as long as a wrong password.
        var userMatches = SameSecret(credentials[..colon], user);
        var passwordMatches = SameSecret(credentials[(colon + 1)..], password);
        return userMatches & passwordMatches;
    }

    private static bool SameSecret(string given, string expected) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}

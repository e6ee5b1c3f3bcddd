namespace Sidecar.AppConfig;

/// <summary>
/// The config an app is served, built from its sources as a Spring app's environment would give it:
/// merged (<see cref="PropertySourceMerger"/>: first source wins, lists whole), <c>{cipher}</c> values
/// decrypted (Spring Cloud Commons' <c>DecryptEnvironmentPostProcessor</c>, which decrypts the winning
/// values only), then placeholders resolved (<see cref="PlaceholderResolver"/>). No I/O: sources in,
/// values and what could not be done out.
/// </summary>
/// <param name="Values">What <c>/v1/config</c> serves.</param>
/// <param name="NotDecrypted">Keys whose <c>{cipher}</c> value could not be decrypted here (no key, or not this key's ciphertext): served empty, as Spring's client does with <c>encrypt.fail-on-error=false</c>.</param>
/// <param name="InvalidFromServer">Keys the Config Server could not decrypt: it serves them renamed <c>invalid.{key}</c> with the value <c>&lt;n/a&gt;</c>.</param>
/// <param name="Unresolved">Keys whose value keeps a placeholder that cannot be resolved.</param>
internal sealed record EffectiveConfig(
    Dictionary<string, string> Values,
    IReadOnlyList<string> NotDecrypted,
    IReadOnlyList<string> InvalidFromServer,
    IReadOnlyList<string> Unresolved)
{
    /// <summary>Spring Cloud Config Server's marker for a value it could not decrypt.</summary>
    public const string ServerInvalidPrefix = "invalid.";

    /// <summary>Builds the served config from <paramref name="sources"/>, highest precedence first.</summary>
    /// <param name="sources">The sources: the Config Server's (merged), then the local file's documents, last document first.</param>
    /// <param name="decryptor">Decrypts <c>{cipher}</c> values; null when no <c>ENCRYPT_KEY</c> is set.</param>
    public static EffectiveConfig Build(IReadOnlyList<IEnumerable<KeyValuePair<string, string>>> sources, CipherDecryptor? decryptor)
    {
        var merged = PropertySourceMerger.Merge(sources);
        List<string>? notDecrypted = null;
        List<string>? invalid = null;
        foreach (var key in merged.Keys.ToArray())
        {
            var value = merged[key];
            if (CipherDecryptor.IsEncrypted(value))
            {
                // Never hand ciphertext over as if it were the value.
                if (decryptor is not null && decryptor.TryDecrypt(value, out var plaintext))
                {
                    merged[key] = plaintext;
                }
                else
                {
                    merged[key] = "";
                    (notDecrypted ??= []).Add(key);
                }
            }
            else if (key.StartsWith(ServerInvalidPrefix, StringComparison.Ordinal) && value == "<n/a>")
            {
                (invalid ??= []).Add(key);
            }
        }

        var values = PlaceholderResolver.Resolve(merged, out var unresolved);
        notDecrypted?.Sort(StringComparer.Ordinal);
        invalid?.Sort(StringComparer.Ordinal);
        return new EffectiveConfig(values, notDecrypted ?? [], invalid ?? [], unresolved);
    }

    /// <summary>What /v1/health adds to the config line, empty when all is well.</summary>
    public string Problems()
    {
        var parts = new List<string>(3);
        if (NotDecrypted.Count > 0)
        {
            parts.Add($"not decrypted, served empty: {string.Join(", ", NotDecrypted)}");
        }

        if (InvalidFromServer.Count > 0)
        {
            parts.Add($"the Config Server could not decrypt: {string.Join(", ", InvalidFromServer)}");
        }

        if (Unresolved.Count > 0)
        {
            parts.Add($"unresolved placeholders in: {string.Join(", ", Unresolved)}");
        }

        return parts.Count == 0 ? "" : "; " + string.Join("; ", parts);
    }
}

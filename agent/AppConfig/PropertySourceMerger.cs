namespace Sidecar.AppConfig;

/// <summary>
/// Merges flat property sources, highest precedence first, as a Spring app sees them once bound: a key
/// comes from the first source that has it, but a list (<c>servers[0]</c>, <c>servers[1].host</c>) comes
/// whole from the first source that has any element of it, or has the list's name as a plain value
/// (<c>servers: []</c> flattens to <c>servers=</c>, which empties the list). Spring Boot's
/// <c>IndexedElementsBinder</c> binds a list from one source only, so a profile that lists one server must
/// not inherit the second and third from the default document (docs/config-server.md#lists).
/// </summary>
internal static class PropertySourceMerger
{
    public static Dictionary<string, string> Merge(IReadOnlyList<IEnumerable<KeyValuePair<string, string>>> sources)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (sources.Count == 1)
        {
            foreach (var (key, value) in sources[0])
            {
                result[key] = value;
            }

            return result;
        }

        // Which source owns each list: the first one naming it, either by an element or by the plain name.
        var owners = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < sources.Count; i++)
        {
            foreach (var (key, _) in sources[i])
            {
                owners.TryAdd(key, i);
                for (var bracket = key.IndexOf('[', StringComparison.Ordinal); bracket > 0; bracket = key.IndexOf('[', bracket + 1))
                {
                    owners.TryAdd(key[..bracket], i);
                }
            }
        }

        for (var i = 0; i < sources.Count; i++)
        {
            foreach (var (key, value) in sources[i])
            {
                if (OwnsEveryList(key, i, owners))
                {
                    result.TryAdd(key, value);
                }
            }
        }

        return result;
    }

    /// <summary>Whether each list <paramref name="key"/> is an element of belongs to source <paramref name="index"/>.</summary>
    private static bool OwnsEveryList(string key, int index, Dictionary<string, int> owners)
    {
        for (var bracket = key.IndexOf('[', StringComparison.Ordinal); bracket > 0; bracket = key.IndexOf('[', bracket + 1))
        {
            if (owners[key[..bracket]] != index)
            {
                return false;
            }
        }

        return true;
    }
}

using System.Text;

namespace Sidecar.AppConfig;

/// <summary>
/// Resolves <c>${name}</c> and <c>${name:default}</c> in every value against the whole merged config, as
/// Spring's environment resolves placeholders on read (<c>PropertyPlaceholderHelper</c>): nested
/// placeholders (<c>${a:${b}}</c>, <c>${${which}.url}</c>), the resolved text resolved again, <c>\${</c>
/// for a literal <c>${</c>. A placeholder that cannot be resolved (no such key and no default, or a cycle)
/// stays as written and its key is reported (docs/config-server.md#placeholders).
/// </summary>
internal static class PlaceholderResolver
{
    private const string Open = "${";
    private const char Close = '}';
    private const char Separator = ':';
    private const char Escape = '\\';
    private const int MaxDepth = 32;

    /// <summary>A copy of <paramref name="values"/> with placeholders resolved.</summary>
    /// <param name="values">The merged config.</param>
    /// <param name="unresolved">Receives the keys whose value keeps an unresolvable placeholder, sorted.</param>
    public static Dictionary<string, string> Resolve(IReadOnlyDictionary<string, string> values, out IReadOnlyList<string> unresolved)
    {
        var result = new Dictionary<string, string>(values.Count, StringComparer.Ordinal);
        List<string>? failed = null;
        foreach (var (key, value) in values)
        {
            if (!value.Contains(Open, StringComparison.Ordinal))
            {
                result[key] = value;
                continue;
            }

            var complete = true;
            result[key] = Substitute(value, values, [key], 0, ref complete);
            if (!complete)
            {
                (failed ??= []).Add(key);
            }
        }

        failed?.Sort(StringComparer.Ordinal);
        unresolved = failed ?? [];
        return result;
    }

    private static string Substitute(string text, IReadOnlyDictionary<string, string> values, HashSet<string> visiting, int depth, ref bool complete)
    {
        if (depth > MaxDepth)
        {
            complete = false;
            return text;
        }

        var builder = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var start = text.IndexOf(Open, i, StringComparison.Ordinal);
            if (start < 0)
            {
                builder.Append(text, i, text.Length - i);
                break;
            }

            if (start > 0 && text[start - 1] == Escape)
            {
                // \${ is a literal ${: drop the backslash, keep the rest as written.
                builder.Append(text, i, start - 1 - i).Append(Open);
                i = start + Open.Length;
                continue;
            }

            var end = MatchingClose(text, start + Open.Length);
            if (end < 0)
            {
                builder.Append(text, i, text.Length - i); // an unclosed ${ is plain text, as in Spring
                break;
            }

            builder.Append(text, i, start - i);
            var inner = Substitute(text[(start + Open.Length)..end], values, visiting, depth + 1, ref complete);
            var separator = inner.IndexOf(Separator, StringComparison.Ordinal);
            var name = separator < 0 ? inner : inner[..separator];
            if (values.TryGetValue(name, out var found) && visiting.Add(name))
            {
                var nestedComplete = true;
                builder.Append(Substitute(found, values, visiting, depth + 1, ref nestedComplete));
                visiting.Remove(name);
                complete &= nestedComplete;
            }
            else if (separator >= 0 && !values.ContainsKey(name))
            {
                builder.Append(Substitute(inner[(separator + 1)..], values, visiting, depth + 1, ref complete));
            }
            else
            {
                // Unknown without a default, or a cycle: kept as written.
                builder.Append(text, start, end + 1 - start);
                complete = false;
            }

            i = end + 1;
        }

        return builder.ToString();
    }

    // The } that closes the ${ opened before index from, counting nested ${ ... } pairs.
    private static int MatchingClose(string text, int from)
    {
        var nesting = 0;
        for (var i = from; i < text.Length; i++)
        {
            if (text[i] == '$' && i + 1 < text.Length && text[i + 1] == '{')
            {
                nesting++;
                i++;
            }
            else if (text[i] == Close)
            {
                if (nesting == 0)
                {
                    return i;
                }

                nesting--;
            }
        }

        return -1;
    }
}

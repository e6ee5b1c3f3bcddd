namespace Sidecar.Actuator;

/// <summary>A node of the <c>info</c> body: a value (a leaf) or named children.</summary>
internal sealed class InfoNode
{
    public string? Value { get; set; }

    public SortedDictionary<string, InfoNode> Children { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// The body of <c>info</c> (docs/actuator.md#info), with no I/O: flat dotted keys nested into objects, as Spring
/// binds <c>info.*</c>. Sources in rising precedence: what the agent knows (<c>app.name</c>,
/// <c>sidecar.version</c>, <c>sidecar.commit</c>), the app's config keys under <c>info.</c> (Spring's
/// <c>env</c> info contributor), then the settings' <c>Actuator:Info:*</c>. A key that is both a value and the
/// parent of others (<c>build=x</c> and <c>build.version=1</c>) keeps its children.
/// </summary>
internal static class InfoDocument
{
    public static InfoNode Build(IEnumerable<KeyValuePair<string, string>> agent, IEnumerable<KeyValuePair<string, string>> appConfig, IEnumerable<KeyValuePair<string, string>> settings)
    {
        var flat = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in agent)
        {
            flat[key] = value;
        }

        foreach (var (key, value) in appConfig)
        {
            if (key.StartsWith("info.", StringComparison.Ordinal) && key.Length > 5)
            {
                flat[key[5..]] = value;
            }
        }

        foreach (var (key, value) in settings)
        {
            flat[key] = value;
        }

        var root = new InfoNode();
        foreach (var (key, value) in flat.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var node = root;
            foreach (var part in key.Split('.'))
            {
                if (!node.Children.TryGetValue(part, out var child))
                {
                    node.Children[part] = child = new InfoNode();
                }

                node = child;
            }

            node.Value = value;
        }

        return root;
    }
}

using System.Text.RegularExpressions;

namespace Sidecar.Tests.Architecture;

/// <summary>
/// The dependency graph of the folders under <c>agent/</c>, measured on the sources as
/// docs/architecture.md#layers says: a folder depends on another when one of its files names the
/// other's namespace (<c>using Sidecar.X;</c>, <c>Sidecar.X.Type</c>) or one of its types by a
/// name relative to <c>Sidecar</c> (<c>X.Type</c>). Comments and string literals do not count.
/// </summary>
public static partial class FolderGraph
{
    /// <summary>The edges of <paramref name="sources"/> (folder, file text): folder to the folders it depends on, each with the files that name it.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlySet<string>>> Edges(IReadOnlyList<(string Folder, string File, string Text)> sources)
    {
        var folders = sources.Select(s => s.Folder).ToHashSet(StringComparer.Ordinal);
        var types = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var code = sources.Select(s => (s.Folder, s.File, Text: Strip(s.Text))).ToList();
        foreach (var (folder, _, text) in code)
        {
            var set = types.TryGetValue(folder, out var found) ? found : types[folder] = new HashSet<string>(StringComparer.Ordinal);
            foreach (Match m in TypeDeclaration().Matches(text))
            {
                set.Add(m.Groups[1].Value);
            }
        }

        var edges = new Dictionary<string, Dictionary<string, HashSet<string>>>(StringComparer.Ordinal);
        foreach (var (folder, file, text) in code)
        {
            var targets = edges.TryGetValue(folder, out var t) ? t : edges[folder] = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            void Add(string target)
            {
                if (target != folder && folders.Contains(target))
                {
                    (targets.TryGetValue(target, out var files) ? files : targets[target] = new HashSet<string>(StringComparer.Ordinal)).Add(file);
                }
            }

            foreach (Match m in NamespaceReference().Matches(text))
            {
                Add(m.Groups[1].Value);
            }

            foreach (Match m in RelativeReference().Matches(text))
            {
                if (types.TryGetValue(m.Groups[1].Value, out var declared) && declared.Contains(m.Groups[2].Value))
                {
                    Add(m.Groups[1].Value);
                }
            }
        }

        return edges.ToDictionary(
            e => e.Key,
            e => (IReadOnlyDictionary<string, IReadOnlySet<string>>)e.Value.ToDictionary(x => x.Key, x => (IReadOnlySet<string>)x.Value, StringComparer.Ordinal),
            StringComparer.Ordinal);
    }

    /// <summary>The folders that are in a cycle, each cycle's folders sorted (Tarjan's strongly connected components of more than one folder).</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Cycles(IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlySet<string>>> edges)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var cycles = new List<IReadOnlyList<string>>();

        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in edges.TryGetValue(v, out var targets) ? targets.Keys : [])
            {
                if (!index.TryGetValue(w, out var seen))
                {
                    Visit(w);
                    low[v] = Math.Min(low[v], low[w]);
                }
                else if (onStack.Contains(w))
                {
                    low[v] = Math.Min(low[v], seen);
                }
            }

            if (low[v] == index[v])
            {
                var component = new List<string>();
                string w;
                do
                {
                    w = stack.Pop();
                    onStack.Remove(w);
                    component.Add(w);
                }
                while (w != v);
                if (component.Count > 1)
                {
                    component.Sort(StringComparer.Ordinal);
                    cycles.Add(component);
                }
            }
        }

        foreach (var v in edges.Keys.Order(StringComparer.Ordinal))
        {
            if (!index.ContainsKey(v))
            {
                Visit(v);
            }
        }

        return cycles;
    }

    /// <summary>The layers of docs/architecture.md#layers: each folder of the table and its layer number.</summary>
    public static IReadOnlyDictionary<string, int> Layers(string architecturePage)
    {
        var layers = new Dictionary<string, int>(StringComparer.Ordinal);
        var inSection = false;
        foreach (var line in architecturePage.Split('\n'))
        {
            if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                inSection = line.TrimEnd() == "## Layers";
                continue;
            }

            var row = LayerRow().Match(line);
            if (inSection && row.Success)
            {
                foreach (Match folder in FolderName().Matches(row.Groups[2].Value))
                {
                    layers[folder.Groups[1].Value] = int.Parse(row.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }

        return layers;
    }

    private static string Strip(string text) => StringLiteral().Replace(Comment().Replace(text, ""), "\"\"");

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex Comment();

    [GeneratedRegex(@"@?""(?:\\.|[^""\\\n])*""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\b(?:class|record|struct|enum|interface)\s+(?:struct\s+|class\s+)?([A-Z]\w*)")]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"\bSidecar\.(\w+)")]
    private static partial Regex NamespaceReference();

    [GeneratedRegex(@"(?<![\w.])(\w+)\.([A-Z]\w*)")]
    private static partial Regex RelativeReference();

    [GeneratedRegex(@"^\|\s*(\d+)\s*\|([^|]*)\|")]
    private static partial Regex LayerRow();

    [GeneratedRegex(@"`(\w+)/`")]
    private static partial Regex FolderName();
}

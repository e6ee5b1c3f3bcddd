using Sidecar.Tests.Support;

namespace Sidecar.Tests.Architecture;

/// <summary>
/// The folders under <c>agent/</c> depend on each other one way only, downwards through the layers
/// written in docs/architecture.md#layers: no cycle, and no folder that uses one of its own layer or above.
/// </summary>
[Trait("Category", "Unit")]
public sealed class FolderLayeringTests
{
    private static readonly string Page = File.ReadAllText(Repository.PathOf("docs", "architecture.md"));

    [Fact]
    public void EveryFolder_HasALayerInTheArchitecturePage()
    {
        var layers = FolderGraph.Layers(Page);

        var missing = AgentFolders().Where(f => !layers.ContainsKey(f)).ToList();
        var gone = layers.Keys.Where(f => !AgentFolders().Contains(f)).ToList();

        Assert.True(missing.Count == 0, $"agent/ folders without a layer in docs/architecture.md#layers: {string.Join(", ", missing)}");
        Assert.True(gone.Count == 0, $"docs/architecture.md#layers names folders agent/ does not have: {string.Join(", ", gone)}");
    }

    [Fact]
    public void NoFolders_AreInACycle()
    {
        var cycles = FolderGraph.Cycles(FolderGraph.Edges(AgentSources()));

        Assert.True(cycles.Count == 0, "folders in a cycle: " + string.Join("; ", cycles.Select(c => string.Join(", ", c))));
    }

    [Fact]
    public void EveryFolder_UsesOnlyFoldersOfLowerLayers()
    {
        var layers = FolderGraph.Layers(Page);
        var edges = FolderGraph.Edges(AgentSources());

        var wrong = (from source in edges
                     from target in source.Value
                     where layers.TryGetValue(source.Key, out var a) && layers.TryGetValue(target.Key, out var b) && b >= a
                     select $"{source.Key} (layer {layers[source.Key]}) -> {target.Key} (layer {layers[target.Key]}) in {string.Join(", ", target.Value.Order(StringComparer.Ordinal))}").ToList();

        Assert.True(wrong.Count == 0, "dependencies against docs/architecture.md#layers:\n" + string.Join("\n", wrong));
    }

    public static TheoryData<string, string, string?> References() => new()
    {
        // text of a file in A, where B declares "class Thing", the edge expected (null: none)
        { "using Sidecar.B;", "B", "B" },
        { "var x = Sidecar.B.Thing.Make();", "B", "B" },
        { "var x = B.Thing.Make();", "B", "B" },
        { "var x = options.B.Thing;", "B", null },
        { "var x = B.Other;", "B", null },
        { "// see Sidecar.B.Thing", "B", null },
        { "/// <see cref=\"B.Thing\"/>", "B", null },
        { "logger = Create(\"Sidecar.B.Logging\");", "B", null },
        { "using Sidecar.A;", "B", null },
    };

    [Theory]
    [MemberData(nameof(References))]
    public void Edges_CountNamespaceAndTypeReferences_NotCommentsOrStrings(string text, string declaring, string? expected)
    {
        var edges = FolderGraph.Edges([("A", "a.cs", text), (declaring, "b.cs", "namespace Sidecar.B;\ninternal sealed class Thing;")]);

        var actual = edges.TryGetValue("A", out var targets) ? targets.Keys.SingleOrDefault() : null;

        Assert.Equal(expected, actual);
    }

    public static TheoryData<string[], string> Graphs() => new()
    {
        // edges as "from>to", the cycles expected ("" for none, ";" between cycles)
        { ["A>B", "B>C"], "" },
        { ["A>B", "B>A"], "A,B" },
        { ["A>B", "B>C", "C>A", "D>A"], "A,B,C" },
        { ["A>B", "B>A", "C>D", "D>C"], "A,B;C,D" },
    };

    [Theory]
    [MemberData(nameof(Graphs))]
    public void Cycles_FindsEveryStronglyConnectedGroup(string[] pairs, string expected)
    {
        var sources = pairs.Select(p => p.Split('>')).SelectMany(p => new[] { (p[0], p[0] + ".cs", $"using Sidecar.{p[1]};"), (p[1], p[1] + ".cs", "") }).ToList();

        var cycles = FolderGraph.Cycles(FolderGraph.Edges(sources));

        Assert.Equal(expected, string.Join(";", cycles.Select(c => string.Join(",", c)).Order(StringComparer.Ordinal)));
    }

    [Fact]
    public void Layers_AreReadFromTheLayersTableOnly()
    {
        const string page = "## Folders\n| 9 | `X/` |\n## Layers\n| layer | folders |\n|---|---|\n| 1 | `A/` |\n| 2 | `B/`, `C/` |\n## After\n| 3 | `D/` |\n";

        var layers = FolderGraph.Layers(page);

        Assert.Equal(["A=1", "B=2", "C=2"], layers.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
    }

    private static HashSet<string> AgentFolders() =>
        Directory.EnumerateDirectories(Repository.PathOf("agent"))
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(d => d is not ("bin" or "obj"))
            .ToHashSet(StringComparer.Ordinal);

    private static List<(string Folder, string File, string Text)> AgentSources() =>
        AgentFolders()
            .SelectMany(folder => Directory.EnumerateFiles(Repository.PathOf("agent", folder), "*.cs", SearchOption.AllDirectories)
                .Select(file => (folder, Path.GetRelativePath(Repository.Root, file), File.ReadAllText(file))))
            .ToList();
}

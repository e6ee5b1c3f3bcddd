using System.Text.RegularExpressions;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Examples;

/// <summary>
/// Every relative link in the README, the changelog, the docs/ pages and the examples' READMEs points
/// to a file or folder of the repository and, with an anchor, to a heading of that page (GitHub's anchors).
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class DocsLinksTests
{
    public static TheoryData<string> Documents()
    {
        var data = new TheoryData<string>();
        var files = Directory.EnumerateFiles(Repository.PathOf("docs"), "*.md")
            .Concat(Directory.EnumerateFiles(Repository.PathOf("examples"), "README.md", SearchOption.AllDirectories))
            .Prepend(Repository.PathOf("CHANGELOG.md"))
            .Prepend(Repository.PathOf("README.md"));
        foreach (var file in files)
        {
            var relative = Path.GetRelativePath(Repository.Root, file);
            if (!relative.Split(Path.DirectorySeparatorChar).Any(p => p is "node_modules" or "bin" or "obj"))
            {
                data.Add(relative);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void EveryRelativeLink_PointsToAnExistingFileAndHeading(string document)
    {
        var broken = BrokenLinks(Repository.PathOf(document));

        Assert.True(broken.Count == 0, $"{document} has broken links: {string.Join(", ", broken)}");
    }

    [Fact]
    public void TheLinkCheck_ReportsAMissingFileAndAMissingHeading()
    {
        // The check above must be able to fail: a page with one good and two bad links.
        var folder = Directory.CreateTempSubdirectory("docs-links-");
        try
        {
            var page = Path.Combine(folder.FullName, "page.md");
            File.WriteAllText(page, """
                # Page

                ## Metrics: `GET /metrics`

                [good](#metrics-get-metrics) [no file](other.md) [no heading](#tracing)

                ```text
                [inside code](ignored.md)
                ```
                """);

            Assert.Equal(["other.md", "#tracing"], BrokenLinks(page));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("Metrics: `GET /metrics`", "metrics-get-metrics")]
    [InlineData("Supervisor mode (`agent run`)", "supervisor-mode-agent-run")]
    [InlineData("Deadlines, retries, ejection", "deadlines-retries-ejection")]
    [InlineData("The agent's own errors", "the-agents-own-errors")]
    [InlineData("Shutdown, in order", "shutdown-in-order")]
    public void Anchors_AreGitHubs(string heading, string anchor) => Assert.Equal(anchor, Anchor(heading));

    /// <summary>The relative links of <paramref name="file"/> that do not resolve, as written.</summary>
    private static List<string> BrokenLinks(string file)
    {
        var text = CodeBlock().Replace(File.ReadAllText(file), "");
        var folder = Path.GetDirectoryName(file)!;
        var broken = new List<string>();
        foreach (Match link in Link().Matches(text))
        {
            var target = link.Groups[1].Value;
            if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal))
            {
                continue;
            }

            var hash = target.IndexOf('#', StringComparison.Ordinal);
            var path = hash < 0 ? target : target[..hash];
            var anchor = hash < 0 ? null : target[(hash + 1)..];
            var resolved = path.Length == 0 ? file : Path.GetFullPath(Path.Combine(folder, path));
            var exists = File.Exists(resolved) || Directory.Exists(resolved);
            if (!exists || (anchor is not null && !(File.Exists(resolved) && Anchors(resolved).Contains(anchor))))
            {
                broken.Add(target);
            }
        }

        return broken;
    }

    /// <summary>The anchors GitHub gives the headings of a Markdown file (a repeated one gets -1, -2...).</summary>
    private static HashSet<string> Anchors(string file)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match heading in Heading().Matches(CodeBlock().Replace(File.ReadAllText(file), "")))
        {
            var anchor = Anchor(heading.Groups[1].Value);
            var unique = anchor;
            for (var n = 1; !anchors.Add(unique); n++)
            {
                unique = $"{anchor}-{n}";
            }
        }

        return anchors;
    }

    // GitHub: lower case, punctuation dropped (letters, digits, spaces, '-' and '_' kept), spaces to '-'.
    private static string Anchor(string heading) =>
        NotAnchorChar().Replace(heading.Trim().ToLowerInvariant(), "").Replace(' ', '-');

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", RegexOptions.Multiline)]
    private static partial Regex Heading();

    [GeneratedRegex(@"^```.*?^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"[^\p{L}\p{N} _-]")]
    private static partial Regex NotAnchorChar();
}

using System.Text.RegularExpressions;
using Sidecar.Configuration;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Examples;

/// <summary>
/// Every variable the examples, READMEs and docs/ pages tell users to set is one the agent (or the
/// example app it is written for) really reads, and every variable the agent reads is documented in
/// README.md or a docs/*.md page, so documentation cannot drift from code.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class DocumentedVariablesTests
{
    /// <summary>What the example apps and the demo read, and what the agent hands its child; not agent settings.</summary>
    private static readonly HashSet<string> AppSide = new(StringComparer.Ordinal)
    {
        "SIDECAR_URL", "HTTP_PROXY", "NO_PROXY", "PEER_SERVICE", "SIDECAR_AGENT_DLL", "APP_BIND",
    };

    /// <summary>The OpenTelemetry SDK's standard variables the agent honours.</summary>
    private static readonly HashSet<string> OpenTelemetry = new(StringComparer.Ordinal)
    {
        "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES", // read by the SDK's default resource (Observability/AgentTracing.cs)
        "OTEL_EXPORTER_OTLP_CERTIFICATE", // read by the SDK's OTLP exporter itself; a bad one is one line (AgentTracing)
    };

    public static TheoryData<string> Documents()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Repository.Root, "*.md", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Repository.PathOf("examples"), "*.yaml", SearchOption.AllDirectories)))
        {
            var relative = Path.GetRelativePath(Repository.Root, file);
            if (!relative.Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj" or "node_modules" or ".git" or "artifacts"))
            {
                data.Add(relative);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void EveryVariableADocumentNames_IsOneTheAgentOrTheExampleAppsRead(string document)
    {
        var text = File.ReadAllText(Repository.PathOf(document));
        var unknown = VariableName().Matches(text)
            .Select(m => m.Value)
            .Where(name => !AgentVariables.IsKnown(name) && !AppSide.Contains(name) && !OpenTelemetry.Contains(name))
            .Distinct(StringComparer.Ordinal)
            .ToList();

        Assert.True(unknown.Count == 0, $"{document} names variables nothing reads: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void TheKubernetesExample_GivesTheAgentContainerOnlyAgentVariables()
    {
        var manifest = File.ReadAllText(Repository.PathOf("examples", "kubernetes", "deployment.yaml"));
        var agentBlock = manifest[manifest.IndexOf("- name: sidecar-agent", StringComparison.Ordinal)..];
        // The agent is a native sidecar (initContainers): its block ends where the app's containers begin.
        var end = agentBlock.IndexOf("\n      containers:", StringComparison.Ordinal);
        agentBlock = agentBlock[..(end >= 0 ? end : agentBlock.IndexOf("volumes:", StringComparison.Ordinal))];

        var names = EnvName().Matches(agentBlock).Select(m => m.Groups[1].Value).ToList();

        Assert.NotEmpty(names);
        Assert.All(names, name => Assert.True(AgentVariables.IsKnown(name), $"the agent does not read {name}"));
        Assert.Contains("SIDECAR_PUBLIC_HEALTH_PORT", names);
        Assert.Contains("EUREKA_URLS", names);
    }

    [Fact]
    public void TheDocs_NameEveryVariableTheAgentReads()
    {
        var missing = Undocumented(ReferenceText());

        Assert.True(missing.Count == 0, $"README.md and docs/*.md do not document: {string.Join(", ", missing)}");
    }

    [Fact]
    public void TheDocsCheck_ReportsAVariableNoPageNames()
    {
        // The check above must be able to fail: with one variable's mentions taken out, it names that variable.
        var docs = ReferenceText().Replace("`APP_HEALTH_TIMEOUT`", "", StringComparison.Ordinal);

        Assert.Equal(["APP_HEALTH_TIMEOUT"], Undocumented(docs));
    }

    /// <summary>The reference a user reads: the README and every page under docs/.</summary>
    private static string ReferenceText() => string.Join(
        "\n",
        Directory.EnumerateFiles(Repository.PathOf("docs"), "*.md")
            .Prepend(Repository.PathOf("README.md"))
            .Select(File.ReadAllText));

    /// <summary>The agent's variables and aliases that <paramref name="docs"/> never names in backticks.</summary>
    private static List<string> Undocumented(string docs) => AgentVariables.All
        .SelectMany(variable => variable.Aliases.Prepend(variable.Name))
        .Where(name => !docs.Contains($"`{name}`", StringComparison.Ordinal))
        .ToList();

    // Names in the agent's families (SIDECAR_, APP_, EUREKA_, CONFIG_, SPRING_, OTEL_, ROUTES) and the
    // proxy variables; `APP_*`-style wildcards are not names.
    [GeneratedRegex(@"(?<![A-Za-z0-9_])(?:(?:SIDECAR|APP|EUREKA|CONFIG|SPRING|OTEL)(?:_[A-Z0-9]+)+|ROUTES|HTTP_PROXY|NO_PROXY)(?![A-Za-z0-9_*])")]
    private static partial Regex VariableName();

    [GeneratedRegex(@"-\s+name:\s+([A-Z][A-Z0-9_]+)\s*\n\s+value")]
    private static partial Regex EnvName();
}

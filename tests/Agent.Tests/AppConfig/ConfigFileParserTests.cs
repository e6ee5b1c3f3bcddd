using Sidecar.AppConfig;

namespace Sidecar.Tests.AppConfig;

[Trait("Category", "Unit")]
public sealed class ConfigFileParserTests
{
    private static readonly string[] DefaultProfile = ["default"];

    // The file as the agent serves it: its documents merged, later ones winning (lists whole).
    private static Dictionary<string, string> Merged(ConfigFileFormat format, string text, IReadOnlyList<string> profiles)
    {
        var documents = ConfigFileParser.Parse(format, text, profiles);
        documents.Reverse();
        return PropertySourceMerger.Merge(documents);
    }

    [Fact]
    public void Json_NestedObjectsAndArrays_BecomeDottedKeysWithStringValues()
    {
        var values = Merged(ConfigFileFormat.Json, """
            {
              // comments and trailing commas are accepted
              "db": { "url": "jdbc:x", "pool": { "size": 10, "ratio": 0.5 } },
              "feature.flag": true,
              "off": false,
              "nothing": null,
              "list": ["a", { "name": "b" }],
              "empty": [],
              "none": {},
            }
            """, DefaultProfile);

        Assert.Equal(new Dictionary<string, string>
        {
            ["db.url"] = "jdbc:x",
            ["db.pool.size"] = "10",
            ["db.pool.ratio"] = "0.5",
            ["feature.flag"] = "true",
            ["off"] = "false",
            ["nothing"] = "",
            ["list[0]"] = "a",
            ["list[1].name"] = "b",
            ["empty"] = "",
        }, values);
    }

    [Fact]
    public void Json_NotAnObject_IsRejectedWithoutEchoingTheContent()
    {
        var ex = Assert.Throws<FormatException>(() => Merged(ConfigFileFormat.Json, "[\"s3cr3t\"]", DefaultProfile));
        Assert.DoesNotContain("s3cr3t", ex.Message, StringComparison.Ordinal);

        ex = Assert.Throws<FormatException>(() => Merged(ConfigFileFormat.Json, "{\n\"password\": \"s3cr3t", DefaultProfile));
        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Yaml_MappingsSequencesAndNulls_FlattenAsSpringBootDoes()
    {
        var values = Merged(ConfigFileFormat.Yaml, """
            # a comment
            db:
              url: jdbc:x
              pool:
                size: 10
            feature.flag: true
            quoted: "null"
            tilde: ~
            empty:
            list:
              - a
              - name: b
                port: 8080
            block: |
              line1
              line2
            nolist: []
            """, DefaultProfile);

        Assert.Equal(new Dictionary<string, string>
        {
            ["db.url"] = "jdbc:x",
            ["db.pool.size"] = "10",
            ["feature.flag"] = "true",
            ["quoted"] = "null",
            ["tilde"] = "",
            ["empty"] = "",
            ["list[0]"] = "a",
            ["list[1].name"] = "b",
            ["list[1].port"] = "8080",
            ["nolist"] = "",
            ["block"] = "line1\nline2\n",
        }, values);
    }

    [Fact]
    public void Yaml_AnchorsAliasesAndMergeKeys_AreResolved()
    {
        var values = Merged(ConfigFileFormat.Yaml, """
            defaults: &defaults
              timeout: 5s
              retries: 2
            orders:
              <<: *defaults
              retries: 3
            copy: *defaults
            """, DefaultProfile);

        Assert.Equal("5s", values["orders.timeout"]);
        Assert.Equal("3", values["orders.retries"]);
        Assert.Equal("2", values["copy.retries"]);
    }

    [Fact]
    public void Yaml_ProfileDocuments_ApplyOnlyWhenTheirProfileIsActive_LaterDocumentsWinning()
    {
        const string text = """
            greeting: hello
            db.url: jdbc:default
            ---
            spring.config.activate.on-profile: dev
            db.url: jdbc:dev
            ---
            spring:
              profiles: prod,staging
            db.url: jdbc:prod
            ---
            spring.config.activate.on-profile: "!dev"
            mode: not-dev
            """;

        var dev = Merged(ConfigFileFormat.Yaml, text, ["dev"]);
        var staging = Merged(ConfigFileFormat.Yaml, text, ["default", "staging"]);

        Assert.Equal(new Dictionary<string, string> { ["greeting"] = "hello", ["db.url"] = "jdbc:dev" }, dev);
        Assert.Equal(new Dictionary<string, string> { ["greeting"] = "hello", ["db.url"] = "jdbc:prod", ["mode"] = "not-dev" }, staging);
    }

    [Fact]
    public void Yaml_Invalid_IsRejectedWithALineNumberAndWithoutTheValue()
    {
        var ex = Assert.Throws<FormatException>(() => Merged(ConfigFileFormat.Yaml, "a: 1\nb: [s3cr3t\nc: 2\n", DefaultProfile));

        Assert.Contains("line", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", ex.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => Merged(ConfigFileFormat.Yaml, "- just\n- a list\n", DefaultProfile));
    }

    [Fact]
    public void Yaml_EmptyFile_IsAnEmptyConfig()
    {
        Assert.Empty(Merged(ConfigFileFormat.Yaml, "", DefaultProfile));
        Assert.Empty(Merged(ConfigFileFormat.Yaml, "# only a comment\n", DefaultProfile));
    }

    [Fact]
    public void Properties_SeparatorsCommentsContinuationsAndEscapes_ReadAsJavaDoes()
    {
        var values = Merged(ConfigFileFormat.Properties, """
            # comment
            ! also a comment
            db.url=jdbc:x
            db.user : admin
            pool.size 10
               indented=yes
            empty=
            multi=first \
                  second
            escaped\=key=a\=b
            unicode=caf\u00e9
            tab=a\tb
            list[0]=a
            windows=c:\\temp
            """, DefaultProfile);

        Assert.Equal(new Dictionary<string, string>
        {
            ["db.url"] = "jdbc:x",
            ["db.user"] = "admin",
            ["pool.size"] = "10",
            ["indented"] = "yes",
            ["empty"] = "",
            ["multi"] = "first second",
            ["escaped=key"] = "a=b",
            ["unicode"] = "café",
            ["tab"] = "a\tb",
            ["list[0]"] = "a",
            ["windows"] = "c:\\temp",
        }, values);
    }

    [Fact]
    public void Properties_MalformedUnicodeEscape_IsRejectedWithTheLine()
    {
        var ex = Assert.Throws<FormatException>(() => Merged(ConfigFileFormat.Properties, "a=1\nb=\\u12\n", DefaultProfile));

        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
    }

    // Spring Boot's reference, "Activation Properties" and "Profile Expressions": a list, and expressions.
    [Theory]
    [InlineData("dev", "dev", true)]
    [InlineData("dev", "prod", false)]
    [InlineData("!prod", "dev", true)]
    [InlineData("!prod", "prod", false)]
    [InlineData("dev & eu", "dev,eu", true)]
    [InlineData("dev & eu", "dev", false)]
    [InlineData("dev | eu", "eu", true)]
    [InlineData("(a | b) & c", "b,c", true)]
    [InlineData("(a | b) & c", "a", false)]
    [InlineData("(a | b) & c", "c", false)]
    [InlineData("!(a & b)", "a", true)]
    [InlineData("!(a & b)", "a,b", false)]
    [InlineData("a & !b", "a", true)]
    [InlineData("a & !b", "a,b", false)]
    [InlineData("production & (us-east | eu-central)", "production,eu-central", true)]
    [InlineData("dev, eu", "eu", true)] // a comma-separated list: any of them
    [InlineData("dev,prod & eu", "prod,eu", true)]
    [InlineData("dev,prod & eu", "prod", false)]
    public void ProfileExpressions_MatchAsSpringsProfilesOf(string expression, string active, bool matches)
    {
        var text = $"""
            a: base
            ---
            spring.config.activate.on-profile: "{expression}"
            a: activated
            """;

        var values = Merged(ConfigFileFormat.Yaml, text, active.Split(','));

        Assert.Equal(matches ? "activated" : "base", values["a"]);
        Assert.DoesNotContain(values.Keys, k => k.StartsWith("spring.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("a & b | c")]
    [InlineData("a | b & c")]
    [InlineData("(a & b")]
    [InlineData("a & ")]
    [InlineData("& a")]
    [InlineData("a)")]
    [InlineData("!")]
    public void ProfileExpressions_Malformed_AreAnErrorNamingTheExpression(string expression)
    {
        var text = $"""
            a: base
            ---
            spring.config.activate.on-profile: "{expression}"
            a: activated
            """;

        var ex = Assert.Throws<FormatException>(() => Merged(ConfigFileFormat.Yaml, text, DefaultProfile));
        Assert.Contains($"malformed profile expression '{expression.Trim()}'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Yaml_OnProfileAsAList_AppliesWhenAnyMatches_AndIsNeverServed()
    {
        const string text = """
            servers: [a, b, c]
            ---
            spring:
              config:
                activate:
                  on-profile:
                    - dev
                    - eu & !prod
            servers: [eu-1]
            """;

        var eu = Merged(ConfigFileFormat.Yaml, text, ["eu"]);
        var euProd = Merged(ConfigFileFormat.Yaml, text, ["eu", "prod"]);

        Assert.Equal(new Dictionary<string, string> { ["servers[0]"] = "eu-1" }, eu);
        Assert.Equal(new Dictionary<string, string> { ["servers[0]"] = "a", ["servers[1]"] = "b", ["servers[2]"] = "c" }, euProd);
    }

    [Fact]
    public void Yaml_ALaterDocumentsList_ReplacesTheWholeList_AnEmptyOneClearsIt()
    {
        // Spring Boot binds a list from one source: the dev document's single server, not server 1 of 3 replaced.
        const string text = """
            app:
              servers:
                - host: a
                  port: 1
                - host: b
                  port: 2
                - host: c
                  port: 3
              name: base
            ---
            spring.config.activate.on-profile: dev
            app:
              servers:
                - host: dev
            ---
            spring.config.activate.on-profile: none
            app:
              servers: []
            """;

        var dev = Merged(ConfigFileFormat.Yaml, text, ["dev"]);
        var none = Merged(ConfigFileFormat.Yaml, text, ["none"]);

        Assert.Equal(new Dictionary<string, string> { ["app.servers[0].host"] = "dev", ["app.name"] = "base" }, dev);
        Assert.Equal(new Dictionary<string, string> { ["app.servers"] = "", ["app.name"] = "base" }, none);
    }

    [Fact]
    public void Properties_MultiDocument_WithHashAndBangSeparators_AndActivation()
    {
        // Spring Boot 2.4+ (#---) and 2.7+ (!---); a separator right after a comment of the same prefix is a comment.
        const string text = """
            greeting=hello
            servers[0]=a
            servers[1]=b
            #---
            spring.config.activate.on-profile=dev
            greeting=hello dev
            servers[0]=dev
            !---
            spring.config.activate.on-profile=prod & eu
            greeting=hello prod eu
            # a comment
            #---
            still=prod-eu-document
            """;

        var dev = Merged(ConfigFileFormat.Properties, text, ["dev"]);
        var prodEu = Merged(ConfigFileFormat.Properties, text, ["prod", "eu"]);
        var plain = Merged(ConfigFileFormat.Properties, text, DefaultProfile);

        Assert.Equal(new Dictionary<string, string> { ["greeting"] = "hello dev", ["servers[0]"] = "dev" }, dev);
        Assert.Equal(new Dictionary<string, string> { ["greeting"] = "hello prod eu", ["servers[0]"] = "a", ["servers[1]"] = "b", ["still"] = "prod-eu-document" }, prodEu);
        Assert.Equal(new Dictionary<string, string> { ["greeting"] = "hello", ["servers[0]"] = "a", ["servers[1]"] = "b" }, plain);
    }

    [Theory]
    [InlineData(" #---")] // not from the first column: a comment
    [InlineData("#----")] // four hyphens: a comment
    [InlineData("#--- x")] // text after it: a comment
    public void Properties_NotQuiteASeparator_IsAComment(string line)
    {
        var text = $"a=1\n{line}\nspring.config.activate.on-profile=dev\nb=2\n";

        // One document only: its activation applies to everything, so nothing is served without dev.
        Assert.Empty(Merged(ConfigFileFormat.Properties, text, DefaultProfile));
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, Merged(ConfigFileFormat.Properties, text, ["dev"]));
    }

    [Fact]
    public void Properties_ASeparatorWithTrailingSpace_StillSeparates()
    {
        var text = "a=1\n#---   \nspring.config.activate.on-profile=dev\nb=2\n";

        Assert.Equal(new Dictionary<string, string> { ["a"] = "1" }, Merged(ConfigFileFormat.Properties, text, DefaultProfile));
    }
}

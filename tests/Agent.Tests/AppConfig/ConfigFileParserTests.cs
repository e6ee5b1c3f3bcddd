using Sidecar.AppConfig;

namespace Sidecar.Tests.AppConfig;

public sealed class ConfigFileParserTests
{
    private static readonly string[] DefaultProfile = ["default"];

    [Fact]
    public void Json_NestedObjectsAndArrays_BecomeDottedKeysWithStringValues()
    {
        var values = ConfigFileParser.Parse(ConfigFileFormat.Json, """
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
        var ex = Assert.Throws<FormatException>(() => ConfigFileParser.Parse(ConfigFileFormat.Json, "[\"s3cr3t\"]", DefaultProfile));
        Assert.DoesNotContain("s3cr3t", ex.Message, StringComparison.Ordinal);

        ex = Assert.Throws<FormatException>(() => ConfigFileParser.Parse(ConfigFileFormat.Json, "{\n\"password\": \"s3cr3t", DefaultProfile));
        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Yaml_MappingsSequencesAndNulls_FlattenAsSpringBootDoes()
    {
        var values = ConfigFileParser.Parse(ConfigFileFormat.Yaml, """
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
        var values = ConfigFileParser.Parse(ConfigFileFormat.Yaml, """
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

        var dev = ConfigFileParser.Parse(ConfigFileFormat.Yaml, text, ["dev"]);
        var staging = ConfigFileParser.Parse(ConfigFileFormat.Yaml, text, ["default", "staging"]);

        Assert.Equal(new Dictionary<string, string> { ["greeting"] = "hello", ["db.url"] = "jdbc:dev" }, dev);
        Assert.Equal(new Dictionary<string, string> { ["greeting"] = "hello", ["db.url"] = "jdbc:prod", ["mode"] = "not-dev" }, staging);
    }

    [Fact]
    public void Yaml_Invalid_IsRejectedWithALineNumberAndWithoutTheValue()
    {
        var ex = Assert.Throws<FormatException>(() => ConfigFileParser.Parse(ConfigFileFormat.Yaml, "a: 1\nb: [s3cr3t\nc: 2\n", DefaultProfile));

        Assert.Contains("line", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", ex.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => ConfigFileParser.Parse(ConfigFileFormat.Yaml, "- just\n- a list\n", DefaultProfile));
    }

    [Fact]
    public void Yaml_EmptyFile_IsAnEmptyConfig()
    {
        Assert.Empty(ConfigFileParser.Parse(ConfigFileFormat.Yaml, "", DefaultProfile));
        Assert.Empty(ConfigFileParser.Parse(ConfigFileFormat.Yaml, "# only a comment\n", DefaultProfile));
    }

    [Fact]
    public void Properties_SeparatorsCommentsContinuationsAndEscapes_ReadAsJavaDoes()
    {
        var values = ConfigFileParser.Parse(ConfigFileFormat.Properties, """
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
        var ex = Assert.Throws<FormatException>(() => ConfigFileParser.Parse(ConfigFileFormat.Properties, "a=1\nb=\\u12\n", DefaultProfile));

        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
    }
}

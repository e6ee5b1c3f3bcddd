using Sidecar.AppConfig;

namespace Sidecar.Tests.AppConfig;

/// <summary>
/// How the served config is layered (<see cref="ConfigLayers"/>): the server layer over the file's
/// documents, later documents over earlier ones; which problems are warned about again; how a config
/// file's bytes are decoded (<see cref="ConfigFileReader.Decode"/>). Tables, no files.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ConfigLayersTests
{
    [Theory]
    // Each layer is "k=v,k=v"; documents are split by '|', in file order. "-" is no server layer.
    //          server             file documents            served
    [InlineData("-",               "",                       "")]
    [InlineData("a=s",             "",                       "a=s")]
    [InlineData("-",               "a=1,b=1",                "a=1,b=1")]
    [InlineData("-",               "a=1,b=1|b=2",            "a=1,b=2")]        // a later document over an earlier one
    [InlineData("a=s",             "a=1,b=1|b=2,c=2",        "a=s,b=2,c=2")]    // the server over the file
    [InlineData("a=s,b=s",         "a=1|a=2",                "a=s,b=s")]
    [InlineData("",                "a=1",                    "a=1")]            // an empty answer hides nothing
    public void Sources_ServerFirstThenTheFilesLastDocumentFirst(string server, string documents, string served)
    {
        var layers = new ConfigLayers
        {
            FileDocuments = documents.Length == 0 ? [] : documents.Split('|').Select(Values).ToList(),
        };
        if (server != "-")
        {
            layers.Serve(ServerLayerSource.Server, Values(server));
        }

        var effective = EffectiveConfig.Build(layers.Sources(), null);

        Assert.Equal(served, string.Join(',', effective.Values.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}")));
        Assert.Equal(server == "-" ? ServerLayerSource.None : ServerLayerSource.Server, layers.ServerSource);
    }

    [Theory]
    [InlineData("Seed")]
    [InlineData("LastKnownGood")]
    [InlineData("Server")]
    public void Serve_SaysWhereTheServerLayerComesFrom(string source)
    {
        var layers = new ConfigLayers();

        layers.Serve(Enum.Parse<ServerLayerSource>(source), Values("a=1"));

        Assert.Equal(Enum.Parse<ServerLayerSource>(source), layers.ServerSource);
        Assert.Equal("1", layers.ServerValues!["a"]);
    }

    [Theory]
    // Each is "not decrypted/invalid from server/unresolved", keys split by ','; "-" for no previous config.
    //          previous       next            warned again
    [InlineData("-",           "//",           "//")]
    [InlineData("-",           "a/b/c",        "a/b/c")]
    [InlineData("a/b/c",       "a/b/c",        "//")]        // the same problems: said already
    [InlineData("a/b/c",       "a,x/b/c",      "a,x//")]     // only the list that changed
    [InlineData("a/b/c",       "//c",          "//")]        // fewer is not warned about
    [InlineData("a/b/c",       "/b,y/",        "/b,y/")]
    [InlineData("//",          "//z",          "//z")]
    public void NewProblems_WarnsOfAListWhenItChanges(string previous, string next, string warned)
    {
        var (notDecrypted, invalidFromServer, unresolved) = ConfigLayers.NewProblems(previous == "-" ? null : Problems(previous), Problems(next));

        Assert.Equal(warned, $"{string.Join(',', notDecrypted)}/{string.Join(',', invalidFromServer)}/{string.Join(',', unresolved)}");
    }

    [Theory]
    [InlineData(new byte[] { 0x61, 0x3D, 0x31 }, "a=1")]
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF, 0x61, 0x3D, 0x31 }, "a=1")]              // the byte order mark dropped
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF, 0x61 }, "\uFEFFa")]      // only one
    [InlineData(new byte[] { 0xEF, 0xBB }, "\uFFFD")]                                  // a cut mark is no mark
    [InlineData(new byte[] { }, "")]
    public void Decode_IsUtf8WithoutALeadingByteOrderMark(byte[] bytes, string text) =>
        Assert.Equal(text, ConfigFileReader.Decode(bytes));

    private static Dictionary<string, string> Values(string text) => text.Length == 0
        ? new Dictionary<string, string>(StringComparer.Ordinal)
        : text.Split(',').Select(p => p.Split('=')).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    private static EffectiveConfig Problems(string text)
    {
        var lists = text.Split('/').Select(l => (IReadOnlyList<string>)(l.Length == 0 ? [] : l.Split(','))).ToArray();
        return new EffectiveConfig(new Dictionary<string, string>(StringComparer.Ordinal), lists[0], lists[1], lists[2]);
    }
}

namespace Sidecar.AppConfig;

/// <summary>Where the server layer's values come from (docs/config-server.md#last-known-good-copy).</summary>
internal enum ServerLayerSource
{
    /// <summary>No server values: no server configured, or none answered and there is no copy nor seed.</summary>
    None,

    /// <summary>A Config Server's answer (once one answered, the layer stays the server's).</summary>
    Server,

    /// <summary><c>CONFIG_SEED_FILE</c>, standing in for the server until one answers.</summary>
    Seed,

    /// <summary>The last-known-good copy, from a start with every server down.</summary>
    LastKnownGood,
}

/// <summary>
/// How the served config is layered (docs/config-server.md#sources): the server layer (a Config Server's
/// sources merged, or the seed file, or the last-known-good copy standing in for them) over the local
/// file's documents, the file the lowest-precedence source and its later documents over its earlier
/// ones. No I/O: <see cref="AppConfigRefresher"/> sets the layers, <see cref="EffectiveConfig"/> builds
/// the served values from <see cref="Sources"/>.
/// </summary>
internal sealed class ConfigLayers
{
    /// <summary>The local file's documents that apply, in file order.</summary>
    public IReadOnlyList<Dictionary<string, string>> FileDocuments { get; set; } = [];

    /// <summary>The server layer's values; null when there are none.</summary>
    public Dictionary<string, string>? ServerValues { get; private set; }

    public ServerLayerSource ServerSource { get; private set; }

    /// <summary>Sets the server layer from <paramref name="source"/>.</summary>
    public void Serve(ServerLayerSource source, Dictionary<string, string> values)
    {
        ServerSource = source;
        ServerValues = values;
    }

    /// <summary>The sources, highest precedence first: the server layer, then the file's documents from the last to the first.</summary>
    public List<IEnumerable<KeyValuePair<string, string>>> Sources()
    {
        var sources = new List<IEnumerable<KeyValuePair<string, string>>>(FileDocuments.Count + 1);
        if (ServerValues is not null)
        {
            sources.Add(ServerValues);
        }

        for (var i = FileDocuments.Count - 1; i >= 0; i--)
        {
            sources.Add(FileDocuments[i]);
        }

        return sources;
    }

    /// <summary>
    /// What of <paramref name="next"/>'s problems to warn about: each list when it is not empty and not
    /// the same as in <paramref name="previous"/> (a problem is warned about when it changes, not at every poll).
    /// </summary>
    public static (IReadOnlyList<string> NotDecrypted, IReadOnlyList<string> InvalidFromServer, IReadOnlyList<string> Unresolved) NewProblems(
        EffectiveConfig? previous, EffectiveConfig next) =>
        (New(next.NotDecrypted, previous?.NotDecrypted), New(next.InvalidFromServer, previous?.InvalidFromServer), New(next.Unresolved, previous?.Unresolved));

    private static IReadOnlyList<string> New(IReadOnlyList<string> next, IReadOnlyList<string>? previous) =>
        next.Count > 0 && !next.SequenceEqual(previous ?? []) ? next : [];
}

using static Sidecar.AppConfig.AppConfigLog;

namespace Sidecar.AppConfig;

/// <summary>
/// Keeps the last-known-good copy (docs/config-server.md#last-known-good-copy and #an-empty-answer): what
/// is on disk, and after each good answer the warning for an empty one and the save, as
/// <see cref="LastKnownGoodDecider"/> decides. Called by <see cref="AppConfigRefresher"/> under its gate.
/// </summary>
internal sealed class LastKnownGoodKeeper(AppConfigOptions options, LastKnownGoodStore store, TimeProvider time, ILogger logger)
{
    private SavedCopyKey? _saved;
    private int _savedKeys; // keys in the copy on disk (0 when there is none)
    private bool _emptyAnswer; // the server's last good answer had no keys (warned once per streak)

    /// <summary>The copy read at start is what is on disk.</summary>
    public void Remember(LastKnownGoodCopy saved)
    {
        _saved = new SavedCopyKey(saved.ConfigVersion, AppConfigSnapshot.Hash(saved.Values), saved.ServerVersion);
        _savedKeys = saved.Values.Count;
    }

    /// <summary>After a good answer, now served as <paramref name="snapshot"/>: warns when it is empty (once per streak), then saves it unless the decider says not to.</summary>
    public void Keep(ConfigFetchResult fetched, Dictionary<string, string> values, AppConfigSnapshot snapshot)
    {
        NoteEmptyAnswer(fetched, values.Count);
        Save(fetched, values, snapshot);
    }

    // docs/config-server.md#response: an unknown application answers 200 with no property sources. By the
    // protocol that is a good load, and it is served; but it is most likely a misspelt APP_NAME,
    // profile or label, so say so (once per streak), naming what was asked for.
    private void NoteEmptyAnswer(ConfigFetchResult fetched, int keys)
    {
        if (LastKnownGoodDecider.WarnEmpty(keys, _emptyAnswer))
        {
            LogEmptyAnswer(logger, fetched.Server!, Identity(options, fetched.Environment!.Label ?? fetched.Label), fetched.Environment.Sources.Count,
                LastKnownGoodDecider.CopyNote(_savedKeys));
        }

        _emptyAnswer = keys == 0;
    }

    private void Save(ConfigFetchResult fetched, Dictionary<string, string> values, AppConfigSnapshot snapshot)
    {
        var key = new SavedCopyKey(snapshot.Version, AppConfigSnapshot.Hash(values), fetched.Environment!.Version);
        if (LastKnownGoodDecider.Decide(_saved, key, values.Count, _savedKeys) != CopySave.Save)
        {
            return;
        }

        var copy = new LastKnownGoodCopy
        {
            Application = options.AppName!,
            Profiles = options.Profiles,
            Labels = options.Labels,
            Server = fetched.Server,
            Label = fetched.Environment.Label ?? fetched.Label,
            ServerVersion = fetched.Environment.Version,
            ConfigVersion = snapshot.Version,
            EffectiveHash = snapshot.ContentHash,
            SavedAt = time.GetUtcNow(),
            Values = values,
        };

        if (store.TrySave(copy))
        {
            _saved = key;
            _savedKeys = copy.Values.Count;
        }
    }
}

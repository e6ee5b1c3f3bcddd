namespace Sidecar.AppConfig;

/// <summary>What is on disk as the last-known-good copy: the config version, the hash of the server's values and the server's version.</summary>
internal readonly record struct SavedCopyKey(long ConfigVersion, string ServerHash, string? ServerVersion);

/// <summary>Whether a good answer is written as the last-known-good copy (docs/config-server.md#last-known-good-copy).</summary>
internal enum CopySave
{
    /// <summary>Write it.</summary>
    Save,

    /// <summary>The copy on disk is this answer already.</summary>
    AlreadySaved,

    /// <summary>An empty answer is served but not written over a copy that has keys.</summary>
    KeepCopyWithKeys,
}

/// <summary>
/// The last-known-good copy's rules (docs/config-server.md#last-known-good-copy and #an-empty-answer),
/// with no I/O: when a good answer is saved, and when an empty answer is warned about.
/// </summary>
internal static class LastKnownGoodDecider
{
    /// <summary>
    /// Saved after each good load whose content or version differs from the saved one; an empty answer
    /// (most likely a misspelt name) never over a copy with keys, which a start with the server down serves.
    /// </summary>
    public static CopySave Decide(SavedCopyKey? saved, SavedCopyKey answer, int answerKeys, int savedKeys)
    {
        if (saved == answer)
        {
            return CopySave.AlreadySaved;
        }

        return answerKeys == 0 && savedKeys > 0 ? CopySave.KeepCopyWithKeys : CopySave.Save;
    }

    /// <summary>An answer with no keys is warned about once per streak of empty answers.</summary>
    public static bool WarnEmpty(int answerKeys, bool emptyStreak) => answerKeys == 0 && !emptyStreak;

    /// <summary>What the empty-answer warning says of the copy.</summary>
    public static string CopyNote(int savedKeys) => savedKeys > 0
        ? $"the last-known-good copy keeps its {savedKeys} keys"
        : "there is no last-known-good copy with keys to keep";
}

using System.Buffers;
using System.Collections.Frozen;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Sidecar.AppConfig;

/// <summary>
/// One version of the app's effective config: immutable, so a request reads it without locks and
/// never sees half a refresh. <see cref="Superseded"/> completes when a newer version replaces it,
/// which is what a long-poll waits on.
/// </summary>
internal sealed class AppConfigSnapshot
{
    private readonly TaskCompletionSource _superseded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public AppConfigSnapshot(long version, IReadOnlyDictionary<string, string> values)
    {
        Version = version;
        Values = values.ToFrozenDictionary(StringComparer.Ordinal);
        var keys = new string[Values.Count];
        Values.Keys.CopyTo(keys, 0);
        Array.Sort(keys, StringComparer.Ordinal);
        Keys = keys;
        ContentHash = Hash(keys, Values);
        ETag = "\"" + version.ToString(CultureInfo.InvariantCulture) + "-" + ContentHash[..ETagHashLength] + "\"";
        Json = WriteJson(keys, Values, "");
    }

    /// <summary>The agent's config version: starts at 1 and grows by one on every real change.</summary>
    public long Version { get; }

    /// <summary>
    /// The quoted entity tag: <see cref="Version"/>, a dash, then the first 16 hex digits of
    /// <see cref="ContentHash"/> (<c>"4-9f86d081884c7d65"</c>). The version alone would not do: it
    /// starts at 1 again whenever the agent starts without a usable last-known-good copy (always with
    /// a file only), so an ETag an app kept from an earlier run could name other content and earn a
    /// wrong 304. With the hash, a match means the same content; the same content under the same
    /// version keeps its ETag across restarts.
    /// </summary>
    public string ETag { get; }

    public FrozenDictionary<string, string> Values { get; }

    /// <summary>The keys in ordinal order: <c>/v1/config</c> lists them sorted and finds a prefix by binary search.</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>SHA-256 of the sorted keys and values: equal content, equal hash.</summary>
    public string ContentHash { get; }

    /// <summary>The whole config as a flat JSON object, written once so <c>GET /v1/config</c> only copies bytes.</summary>
    public ReadOnlyMemory<byte> Json { get; }

    /// <summary>Completes when a newer snapshot replaces this one.</summary>
    public Task Superseded => _superseded.Task;

    internal void MarkSuperseded() => _superseded.TrySetResult();

    /// <summary>The keys starting with <paramref name="prefix"/>, as a flat JSON object.</summary>
    public ReadOnlyMemory<byte> JsonWithPrefix(string prefix) =>
        prefix.Length == 0 ? Json : WriteJson(Keys, Values, prefix);

    // 64 bits: a stale ETag would need the same version and a colliding hash to match.
    private const int ETagHashLength = 16;

    private const string EmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    public static string Hash(IReadOnlyDictionary<string, string> values)
    {
        var keys = values.Keys.ToArray();
        Array.Sort(keys, StringComparer.Ordinal);
        return Hash(keys, values);
    }

    private static string Hash(IReadOnlyList<string> sortedKeys, IReadOnlyDictionary<string, string> values)
    {
        if (values.Count == 0)
        {
            // SHA-256 of nothing, without loading OpenSSL: an agent without app config never needs
            // libcrypto, which costs about 4 MB of RSS (docs/performance.md#what-was-tuned).
            return EmptyHash;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> separator = [0];
        foreach (var key in sortedKeys)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(key));
            hash.AppendData(separator);
            hash.AppendData(Encoding.UTF8.GetBytes(values[key]));
            hash.AppendData(separator);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static ReadOnlyMemory<byte> WriteJson(IReadOnlyList<string> sortedKeys, IReadOnlyDictionary<string, string> values, string prefix)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            for (var i = FirstWithPrefix(sortedKeys, prefix); i < sortedKeys.Count && sortedKeys[i].StartsWith(prefix, StringComparison.Ordinal); i++)
            {
                writer.WriteString(sortedKeys[i], values[sortedKeys[i]]);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenMemory;
    }

    // Keys sharing a prefix are contiguous in ordinal order: find the first by binary search.
    private static int FirstWithPrefix(IReadOnlyList<string> sortedKeys, string prefix)
    {
        int low = 0, high = sortedKeys.Count;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            if (string.CompareOrdinal(sortedKeys[mid], prefix) < 0)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low;
    }
}

using System.Security.Cryptography;
using System.Text;
using Sidecar.Configuration;

namespace Sidecar.AppConfig;

/// <summary>
/// Reads the local config file (<c>CONFIG_FILE</c>) and the seed file (<c>CONFIG_SEED_FILE</c>), docs/config-server.md:
/// the bytes (a UTF-8 byte order mark dropped), parsed in their format with the active profiles. The local
/// file is parsed again only when its bytes changed; a read or parse failure keeps the previous documents.
/// </summary>
internal sealed class ConfigFileReader(string path, ConfigFileFormat format, IReadOnlyList<string> profiles)
{
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    private string? _hash;

    public string Path => path;

    /// <summary>The file's documents that apply, in file order (later ones over earlier ones); empty before the first read.</summary>
    public List<Dictionary<string, string>> Documents { get; private set; } = [];

    /// <summary>How many keys the documents give, merged.</summary>
    public int KeyCount => PropertySourceMerger.Merge(Documents).Count;

    /// <summary>Reads the file when its bytes changed; on failure the previous documents stay.</summary>
    /// <param name="error">Why it could not be read, for the log and /v1/health.</param>
    public bool TryRead(out string error)
    {
        error = "";
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            error = $"'{path}' does not exist";
            return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = $"cannot read '{path}': {ex.Message}";
            return false;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (hash == _hash)
        {
            return true;
        }

        try
        {
            Documents = ConfigFileParser.Parse(format, Decode(bytes), profiles);
            _hash = hash;
            return true;
        }
        catch (FormatException ex)
        {
            error = $"'{path}': {ex.Message}";
            return false;
        }
    }

    /// <summary>The seed file's values, its documents merged as the local file's (later over earlier); null when none is set.</summary>
    /// <exception cref="InvalidConfigurationException">When the file cannot be read or parsed: that stops the start.</exception>
    public static Dictionary<string, string>? ReadSeed(AppConfigOptions options)
    {
        if (options.SeedFile is not { } seedPath)
        {
            return null;
        }

        try
        {
            var documents = ConfigFileParser.Parse(options.SeedFileFormat, Decode(File.ReadAllBytes(seedPath)), options.Profiles);
            documents.Reverse();
            return PropertySourceMerger.Merge(documents);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw SeedError($"'{seedPath}' does not exist");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw SeedError($"cannot read '{seedPath}': {ex.Message}");
        }
        catch (FormatException ex)
        {
            throw SeedError($"'{seedPath}': {ex.Message}");
        }
    }

    /// <summary>The text of a config file's bytes: UTF-8, a leading byte order mark dropped.</summary>
    internal static string Decode(byte[] bytes) =>
        Encoding.UTF8.GetString(bytes.AsSpan().StartsWith(Utf8Bom) ? bytes.AsSpan(3) : bytes);

    private static InvalidConfigurationException SeedError(string message) =>
        new([$"{AgentVariables.Describe("AppConfig:SeedFile")}: {message}"]);
}

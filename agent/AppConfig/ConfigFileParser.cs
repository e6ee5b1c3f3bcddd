namespace Sidecar.AppConfig;

/// <summary>
/// Reads <c>CONFIG_FILE</c> into flat dotted keys (<c>db.url</c>, <c>list[0]</c>) with string values,
/// the shape the Config Server serves, so both sources merge key by key. A YAML or .properties file may
/// hold several documents (Spring Boot's multi-document files); each one that applies to the active
/// profiles is a source of its own.
/// </summary>
internal static class ConfigFileParser
{
    /// <summary>The documents that apply, in file order (later ones win).</summary>
    /// <exception cref="FormatException">When the text is not valid for its format; the message names the line, never a value.</exception>
    public static List<Dictionary<string, string>> Parse(ConfigFileFormat format, string text, IReadOnlyList<string> profiles) => format switch
    {
        ConfigFileFormat.Json => JsonDocument(JsonConfigParser.Parse(text), profiles),
        ConfigFileFormat.Yaml => YamlConfigParser.Parse(text, profiles),
        ConfigFileFormat.Properties => PropertiesParser.Parse(text, profiles),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    // One document; its activation keys are honoured as in the other formats.
    private static List<Dictionary<string, string>> JsonDocument(Dictionary<string, string> document, IReadOnlyList<string> profiles) =>
        ProfileActivation.Applies(document, profiles) ? [document] : [];
}

namespace Sidecar.AppConfig;

/// <summary>
/// Reads <c>CONFIG_FILE</c> into flat dotted keys (<c>db.url</c>, <c>list[0]</c>) with string values,
/// the shape the Config Server serves, so both sources merge key by key.
/// </summary>
internal static class ConfigFileParser
{
    /// <exception cref="FormatException">When the text is not valid for its format; the message names the line, never a value.</exception>
    public static Dictionary<string, string> Parse(ConfigFileFormat format, string text, IReadOnlyList<string> profiles) => format switch
    {
        ConfigFileFormat.Json => JsonConfigParser.Parse(text),
        ConfigFileFormat.Yaml => YamlConfigParser.Parse(text, profiles),
        ConfigFileFormat.Properties => PropertiesParser.Parse(text),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };
}

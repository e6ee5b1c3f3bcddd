using System.Text.Json;

namespace Sidecar.AppConfig;

/// <summary>A JSON config file: nested objects become dotted keys, arrays <c>name[i]</c>, scalars their JSON text, null empty.</summary>
internal static class JsonConfigParser
{
    private static readonly JsonDocumentOptions Options = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <exception cref="FormatException">When the text is not a JSON object.</exception>
    public static Dictionary<string, string> Parse(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text, Options);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("the top level must be a JSON object");
            }

            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            Flatten(document.RootElement, "", result);
            return result;
        }
        catch (JsonException ex)
        {
            // JsonException's message names the line and byte position only, never the text around it.
            throw new FormatException($"invalid JSON at line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}", ex);
        }
    }

    /// <summary>Adds <paramref name="element"/> under <paramref name="key"/>: Spring Boot's rules (an empty list is an empty value, an empty object nothing).</summary>
    internal static void Flatten(JsonElement element, string key, Dictionary<string, string> result)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Flatten(property.Value, key.Length == 0 ? property.Name : key + "." + property.Name, result);
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Flatten(item, $"{key}[{index++}]", result);
                }

                if (index == 0)
                {
                    result[key] = "";
                }

                break;
            default:
                result[key] = ScalarText(element);
                break;
        }
    }

    /// <summary>A JSON scalar as the app sees it: strings unquoted, numbers and booleans as written, null empty.</summary>
    internal static string ScalarText(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => element.GetString()!,
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null or JsonValueKind.Undefined => "",
        _ => element.GetRawText(),
    };
}

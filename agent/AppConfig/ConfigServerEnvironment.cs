using System.Text.Json;

namespace Sidecar.AppConfig;

/// <summary>What <c>GET /{application}/{profiles}[/{label}]</c> answered (see docs/config-server.md#response).</summary>
/// <param name="Label">The label the server resolved; may be null.</param>
/// <param name="Version">The backend's revision (a git SHA); may be null.</param>
/// <param name="Sources">Property sources, highest precedence first.</param>
internal sealed record ConfigServerEnvironment(string? Label, string? Version, IReadOnlyList<ConfigPropertySource> Sources)
{
    /// <summary>The sources merged: the first source that has a key wins, and a list comes whole from the first source that has it (<see cref="PropertySourceMerger"/>).</summary>
    public Dictionary<string, string> Merge() => PropertySourceMerger.Merge([.. Sources.Select(s => s.Values)]);

    /// <summary>Reads the JSON environment; accepts the v2 media type's <c>{"value":..,"origin":..}</c> wrapped values.</summary>
    /// <exception cref="FormatException">When the body is not a Config Server environment.</exception>
    public static ConfigServerEnvironment Parse(ReadOnlyMemory<byte> body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object ||
                !root.TryGetProperty("propertySources", out var sources) || sources.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("the answer is not a Config Server environment (no propertySources array)");
            }

            var list = new List<ConfigPropertySource>(sources.GetArrayLength());
            foreach (var source in sources.EnumerateArray())
            {
                list.Add(ReadSource(source));
            }

            return new ConfigServerEnvironment(OptionalString(root, "label"), OptionalString(root, "version"), list);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"invalid JSON at line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}", ex);
        }
    }

    private static ConfigPropertySource ReadSource(JsonElement source)
    {
        if (source.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("a property source is not a JSON object");
        }

        var name = OptionalString(source, "name") ?? "";
        var values = new List<KeyValuePair<string, string>>();
        if (source.TryGetProperty("source", out var map) && map.ValueKind == JsonValueKind.Object)
        {
            var flat = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in map.EnumerateObject())
            {
                var value = property.Value;

                // v2 media type (application/vnd.spring-cloud.config-server.v2+json): {"value":..,"origin":..}.
                if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("value", out var wrapped))
                {
                    value = wrapped;
                }

                // Keys are flat already; anything nested is flattened the same way as a JSON file.
                JsonConfigParser.Flatten(value, property.Name, flat);
            }

            values.AddRange(flat);
        }
        else if (source.TryGetProperty("source", out map) && map.ValueKind != JsonValueKind.Null)
        {
            throw new FormatException($"property source '{name}' has no source object");
        }

        return new ConfigPropertySource(name, values);
    }

    private static string? OptionalString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>One property source: a name (<c>git:orders-dev.yml</c>) and its flat keys with string values.</summary>
internal sealed record ConfigPropertySource(string Name, IReadOnlyList<KeyValuePair<string, string>> Values);

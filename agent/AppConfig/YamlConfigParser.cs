using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Sidecar.AppConfig;

/// <summary>
/// A YAML config file flattened as Spring Boot does (<c>YamlProcessor</c>): mappings become dotted keys,
/// sequences <c>name[i]</c> (an empty one an empty value), scalars their text, <c>~</c>/<c>null</c> empty.
/// Anchors, aliases and <c>&lt;&lt;</c> merge keys work (explicit keys win over merged ones); a duplicate
/// key is an error, as in Spring Boot. Each document is a source of its own, later ones winning (so a later
/// document's list replaces an earlier one's whole); a document with <c>spring.config.activate.on-profile</c>
/// (or the older <c>spring.profiles</c>) counts only when the active profiles match it
/// (<see cref="ProfileActivation"/>). Built on YamlDotNet's event parser only (no reflection-based
/// deserializer, no representation model), so it stays trim- and AOT-safe.
/// </summary>
internal static class YamlConfigParser
{
    /// <summary>The documents that apply to <paramref name="profiles"/>, in file order, without their activation keys.</summary>
    /// <exception cref="FormatException">When the text is not YAML or a document is not a mapping; the message names the line, never a value.</exception>
    public static List<Dictionary<string, string>> Parse(string text, IReadOnlyList<string> profiles)
    {
        var result = new List<Dictionary<string, string>>();
        using var reader = new StringReader(text);
        var parser = new Parser(reader);
        try
        {
            parser.Consume<StreamStart>();
            while (!parser.TryConsume<StreamEnd>(out _))
            {
                var start = parser.Consume<DocumentStart>();
                var anchors = new Dictionary<string, Node>(StringComparer.Ordinal);
                var root = parser.Accept<DocumentEnd>(out _) ? null : ReadNode(parser, anchors);
                parser.Consume<DocumentEnd>();

                var document = new Dictionary<string, string>(StringComparer.Ordinal);
                switch (root)
                {
                    case null or ScalarNode { Value: null }:
                        continue; // an empty document
                    case MapNode:
                        Flatten(root, "", document);
                        break;
                    default:
                        throw new FormatException($"the YAML document at line {start.Start.Line} must be a mapping of keys");
                }

                if (ProfileActivation.Applies(document, profiles) && document.Count > 0)
                {
                    result.Add(document);
                }
            }
        }
        catch (YamlException ex)
        {
            // YamlDotNet's messages can quote the text around the error: keep only the position.
            throw new FormatException($"invalid YAML at line {ex.Start.Line}, column {ex.Start.Column}", ex);
        }
        catch (InvalidOperationException ex)
        {
            // An event the structure does not allow where it stands.
            throw new FormatException($"invalid YAML at line {parser.Current?.Start.Line}, column {parser.Current?.Start.Column}", ex);
        }

        return result;
    }

    private static Node ReadNode(IParser parser, Dictionary<string, Node> anchors)
    {
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            return anchors.TryGetValue(alias.Value.Value, out var target)
                ? target
                : throw new FormatException($"invalid YAML at line {alias.Start.Line}: unknown alias");
        }

        if (parser.TryConsume<Scalar>(out var scalar))
        {
            return Anchor(scalar.Anchor, new ScalarNode(IsNull(scalar) ? null : scalar.Value, scalar.Start.Line), anchors);
        }

        if (parser.TryConsume<SequenceStart>(out var sequenceStart))
        {
            var sequence = Anchor(sequenceStart.Anchor, new SequenceNode(), anchors);
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                sequence.Items.Add(ReadNode(parser, anchors));
            }

            return sequence;
        }

        var mappingStart = parser.Consume<MappingStart>();
        var mapping = Anchor(mappingStart.Anchor, new MapNode(), anchors);
        var merges = new List<MapNode>();
        while (!parser.TryConsume<MappingEnd>(out _))
        {
            var keyNode = ReadNode(parser, anchors);
            var value = ReadNode(parser, anchors);
            if (keyNode is not ScalarNode { } keyScalar)
            {
                throw new FormatException($"invalid YAML near line {mappingStart.Start.Line}: a key must be a plain value");
            }

            var key = keyScalar.Value ?? "";
            if (key == "<<")
            {
                // YAML merge key: a mapping, or a list of mappings (earlier ones win).
                switch (value)
                {
                    case MapNode merged: merges.Add(merged); break;
                    case SequenceNode list when list.Items.TrueForAll(i => i is MapNode):
                        merges.AddRange(list.Items.Cast<MapNode>());
                        break;
                    default: throw new FormatException($"invalid YAML at line {keyScalar.Line}: '<<' must merge a mapping");
                }

                continue;
            }

            if (!mapping.Keys.Add(key))
            {
                throw new FormatException($"invalid YAML at line {keyScalar.Line}: duplicate key '{key}'");
            }

            mapping.Entries.Add((key, value));
        }

        foreach (var merged in merges)
        {
            foreach (var entry in merged.Entries)
            {
                if (mapping.Keys.Add(entry.Key))
                {
                    mapping.Entries.Add(entry);
                }
            }
        }

        return mapping;
    }

    private static T Anchor<T>(AnchorName anchor, T node, Dictionary<string, Node> anchors)
        where T : Node
    {
        if (!anchor.IsEmpty)
        {
            anchors[anchor.Value] = node;
        }

        return node;
    }

    private static void Flatten(Node node, string key, Dictionary<string, string> result, int depth = 0)
    {
        // Aliases can make a node its own child; real config is never this deep.
        if (depth > 64)
        {
            throw new FormatException("invalid YAML: nested more than 64 levels (a recursive alias?)");
        }

        switch (node)
        {
            case MapNode mapping:
                foreach (var (childKey, child) in mapping.Entries)
                {
                    Flatten(child, key.Length == 0 ? childKey : key + "." + childKey, result, depth + 1);
                }

                break;
            case SequenceNode sequence:
                for (var i = 0; i < sequence.Items.Count; i++)
                {
                    Flatten(sequence.Items[i], $"{key}[{i}]", result, depth + 1);
                }

                if (sequence.Items.Count == 0)
                {
                    result[key] = "";
                }

                break;
            case ScalarNode scalar:
                result[key] = scalar.Value ?? "";
                break;
        }
    }

    // YAML's null: an empty plain scalar, ~ or null (any of its three spellings), unless quoted or tagged.
    private static bool IsNull(Scalar scalar) =>
        scalar.Style is ScalarStyle.Plain or ScalarStyle.Any && scalar.Tag.IsEmpty &&
        scalar.Value is "" or "~" or "null" or "Null" or "NULL";

    private abstract class Node;

    private sealed class ScalarNode(string? value, long line) : Node
    {
        public string? Value { get; } = value;

        public long Line { get; } = line;
    }

    private sealed class SequenceNode : Node
    {
        public List<Node> Items { get; } = [];
    }

    private sealed class MapNode : Node
    {
        public List<(string Key, Node Value)> Entries { get; } = [];

        public HashSet<string> Keys { get; } = new(StringComparer.Ordinal);
    }
}

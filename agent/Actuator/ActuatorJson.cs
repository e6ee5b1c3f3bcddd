using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Sidecar.Actuator;

/// <summary>
/// The actuator's bodies in Spring Boot's JSON shapes (docs/actuator.md), written by hand: the shapes are maps of
/// maps, and the agent is NativeAOT (no reflection-based serializer).
/// </summary>
internal static class ActuatorJson
{
    public static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Links(IReadOnlyList<ActuatorLink> links) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartObject("_links");
        foreach (var link in links)
        {
            w.WriteStartObject(link.Name);
            w.WriteString("href", link.Href);
            w.WriteBoolean("templated", link.Templated);
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteEndObject();
    });

    /// <summary>V3: <c>components</c>; V2: <c>details</c> (Spring Boot's <c>CompositeHealth</c>); left out when empty.</summary>
    public static byte[] Health(HealthDocument health, ApiVersion version) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("status", health.Status);
        if (health.Components.Count > 0)
        {
            w.WriteStartObject(version == ApiVersion.V2 ? "details" : "components");
            foreach (var (name, component) in health.Components)
            {
                w.WritePropertyName(name);
                WriteComponent(w, component);
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    });

    public static byte[] Component(HealthComponent component) => Write(w => WriteComponent(w, component));

    public static byte[] Info(InfoNode root) => Write(w => WriteNode(w, root));

    public static byte[] Loggers(string level) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartArray("levels");
        foreach (var name in LoggerLevels.Names)
        {
            w.WriteStringValue(name);
        }

        w.WriteEndArray();
        w.WriteStartObject("loggers");
        w.WritePropertyName(LoggerLevels.Root);
        WriteLogger(w, level);
        w.WriteEndObject();
        w.WriteStartObject("groups");
        w.WriteEndObject();
        w.WriteEndObject();
    });

    public static byte[] Logger(string level) => Write(w => WriteLogger(w, level));

    /// <param name="profiles">The active profiles.</param>
    /// <param name="sourceName">The one property source: the app's config as the agent serves it.</param>
    /// <param name="properties">Its keys and the values as shown (masked), sorted.</param>
    public static byte[] Env(IReadOnlyList<string> profiles, string sourceName, IEnumerable<KeyValuePair<string, string>> properties) => Write(w =>
    {
        w.WriteStartObject();
        WriteProfiles(w, profiles);
        w.WriteStartArray("propertySources");
        w.WriteStartObject();
        w.WriteString("name", sourceName);
        w.WriteStartObject("properties");
        foreach (var (key, value) in properties)
        {
            w.WriteStartObject(key);
            w.WriteString("value", value);
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    });

    /// <summary>Spring Boot's <c>env/{toMatch}</c>: the property, then the same per source.</summary>
    public static byte[] EnvEntry(IReadOnlyList<string> profiles, string sourceName, string value) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartObject("property");
        w.WriteString("source", sourceName);
        w.WriteString("value", value);
        w.WriteEndObject();
        WriteProfiles(w, profiles);
        w.WriteStartArray("propertySources");
        w.WriteStartObject();
        w.WriteString("name", sourceName);
        w.WriteStartObject("property");
        w.WriteString("value", value);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    });

    public static byte[] MetricNames(IReadOnlyList<string> names) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartArray("names");
        foreach (var name in names)
        {
            w.WriteStringValue(name);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    public static byte[] Metric(MetricDocument metric) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("name", metric.Name);
        WriteNullable(w, "description", metric.Description);
        WriteNullable(w, "baseUnit", metric.BaseUnit);
        w.WriteStartArray("measurements");
        foreach (var measurement in metric.Measurements)
        {
            w.WriteStartObject();
            w.WriteString("statistic", measurement.Statistic);
            if (double.IsFinite(measurement.Value))
            {
                w.WriteNumber("value", measurement.Value);
            }
            else
            {
                w.WriteString("value", measurement.Value.ToString(CultureInfo.InvariantCulture)); // JSON has no NaN or infinity
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("availableTags");
        foreach (var tag in metric.AvailableTags)
        {
            w.WriteStartObject();
            w.WriteString("tag", tag.Tag);
            w.WriteStartArray("values");
            foreach (var value in tag.Values)
            {
                w.WriteStringValue(value);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    private static void WriteComponent(Utf8JsonWriter w, HealthComponent component)
    {
        w.WriteStartObject();
        w.WriteString("status", component.Status);
        if (component.Details.Count > 0)
        {
            w.WriteStartObject("details");
            foreach (var (key, value) in component.Details)
            {
                switch (value)
                {
                    case null: w.WriteNull(key); break;
                    case bool b: w.WriteBoolean(key, b); break;
                    case int i: w.WriteNumber(key, i); break;
                    default: w.WriteString(key, Convert.ToString(value, CultureInfo.InvariantCulture)); break;
                }
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteNode(Utf8JsonWriter w, InfoNode node)
    {
        w.WriteStartObject();
        foreach (var (name, child) in node.Children)
        {
            if (child.Children.Count > 0)
            {
                w.WritePropertyName(name);
                WriteNode(w, child);
            }
            else
            {
                w.WriteString(name, child.Value);
            }
        }

        w.WriteEndObject();
    }

    private static void WriteLogger(Utf8JsonWriter w, string level)
    {
        w.WriteStartObject();
        w.WriteString("configuredLevel", level);
        w.WriteString("effectiveLevel", level);
        w.WriteEndObject();
    }

    private static void WriteProfiles(Utf8JsonWriter w, IReadOnlyList<string> profiles)
    {
        w.WriteStartArray("activeProfiles");
        foreach (var profile in profiles)
        {
            w.WriteStringValue(profile);
        }

        w.WriteEndArray();
        w.WriteStartArray("defaultProfiles");
        w.WriteStringValue("default");
        w.WriteEndArray();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }
}

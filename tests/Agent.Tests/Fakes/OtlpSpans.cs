using System.Text;

namespace Sidecar.Tests.Fakes;

/// <summary>One span of an OTLP export, as the collector received it.</summary>
public sealed record OtlpSpan(string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, IReadOnlyDictionary<string, object> Attributes, int StatusCode)
{
    /// <summary>The span's events, in order: name and attributes.</summary>
    public IReadOnlyList<(string Name, IReadOnlyDictionary<string, object> Attributes)> Events { get; init; } = [];
}

/// <summary>
/// Reads the spans out of an OTLP/HTTP protobuf export (<c>ExportTraceServiceRequest</c>): just enough of the
/// protobuf wire format for the fields tests look at (ids, name, kind, attributes of string, bool, int and
/// double values, status code, events). Span kinds: 1 internal, 2 server, 3 client; status codes: 0 unset, 1 ok, 2 error.
/// </summary>
public static class OtlpSpans
{
    public static IReadOnlyList<OtlpSpan> Read(byte[] export)
    {
        var spans = new List<OtlpSpan>();
        foreach (var (field, resourceSpans) in Fields(export))
        {
            if (field != 1)
            {
                continue;
            }

            foreach (var (f2, scopeSpans) in Fields(resourceSpans))
            {
                if (f2 != 2)
                {
                    continue;
                }

                foreach (var (f3, span) in Fields(scopeSpans))
                {
                    if (f3 == 2)
                    {
                        spans.Add(ReadSpan(span));
                    }
                }
            }
        }

        return spans;
    }

    private static OtlpSpan ReadSpan(byte[] span)
    {
        string trace = "", id = "", parent = "", name = "";
        var kind = 0;
        var status = 0;
        var attributes = new Dictionary<string, object>();
        var events = new List<(string, IReadOnlyDictionary<string, object>)>();
        foreach (var (field, value) in Fields(span))
        {
            switch (field)
            {
                case 1: trace = Convert.ToHexStringLower(value); break;
                case 2: id = Convert.ToHexStringLower(value); break;
                case 4: parent = Convert.ToHexStringLower(value); break;
                case 5: name = Encoding.UTF8.GetString(value); break;
                case 6: kind = (int)Varint(value); break;
                case 9:
                    var (key, attribute) = ReadKeyValue(value);
                    attributes[key] = attribute;
                    break;
                case 11:
                    events.Add(ReadEvent(value));
                    break;
                case 15:
                    foreach (var (sf, sv) in Fields(value))
                    {
                        if (sf == 3)
                        {
                            status = (int)Varint(sv);
                        }
                    }

                    break;
            }
        }

        return new OtlpSpan(trace, id, parent, name, kind, attributes, status) { Events = events };
    }

    // Span.Event: time_unix_nano = 1, name = 2, attributes = 3.
    private static (string Name, IReadOnlyDictionary<string, object> Attributes) ReadEvent(byte[] message)
    {
        var name = "";
        var attributes = new Dictionary<string, object>();
        foreach (var (field, value) in Fields(message))
        {
            if (field == 2)
            {
                name = Encoding.UTF8.GetString(value);
            }
            else if (field == 3)
            {
                var (key, attribute) = ReadKeyValue(value);
                attributes[key] = attribute;
            }
        }

        return (name, attributes);
    }

    private static (string Key, object Value) ReadKeyValue(byte[] keyValue)
    {
        var key = "";
        object value = "";
        foreach (var (field, bytes) in Fields(keyValue))
        {
            if (field == 1)
            {
                key = Encoding.UTF8.GetString(bytes);
            }
            else if (field == 2)
            {
                foreach (var (vf, vb) in Fields(bytes))
                {
                    value = vf switch
                    {
                        1 => Encoding.UTF8.GetString(vb),
                        2 => Varint(vb) != 0,
                        3 => (long)Varint(vb),
                        4 => BitConverter.ToDouble(vb),
                        _ => value,
                    };
                }
            }
        }

        return (key, value);
    }

    // Every field of a message: its number and its bytes (a varint's own bytes, a fixed value's, or a length-delimited payload).
    private static IEnumerable<(int Field, byte[] Value)> Fields(byte[] message)
    {
        var i = 0;
        while (i < message.Length)
        {
            var tag = ReadVarint(message, ref i);
            var field = (int)(tag >> 3);
            switch ((int)(tag & 7))
            {
                case 0:
                    var start = i;
                    ReadVarint(message, ref i);
                    yield return (field, message[start..i]);
                    break;
                case 1:
                    yield return (field, message[i..(i + 8)]);
                    i += 8;
                    break;
                case 2:
                    var length = (int)ReadVarint(message, ref i);
                    yield return (field, message[i..(i + length)]);
                    i += length;
                    break;
                case 5:
                    yield return (field, message[i..(i + 4)]);
                    i += 4;
                    break;
                default:
                    throw new FormatException($"wire type {tag & 7} at {i}");
            }
        }
    }

    private static ulong Varint(byte[] bytes)
    {
        var i = 0;
        return ReadVarint(bytes, ref i);
    }

    private static ulong ReadVarint(byte[] bytes, ref int i)
    {
        ulong result = 0;
        var shift = 0;
        while (true)
        {
            var b = bytes[i++];
            result |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }

            shift += 7;
        }
    }
}

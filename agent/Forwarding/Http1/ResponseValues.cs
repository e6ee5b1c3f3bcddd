using System.Text;

namespace Sidecar.Forwarding.Http1;

/// <summary>
/// The value strings of a connection's previous answer, handed out again when a field of the next answer has
/// the same name and the same bytes (docs/performance.md#what-was-tuned): an instance sends the same
/// <c>Server</c>, <c>Content-Type</c>, <c>ETag</c>... on every answer of a keep-alive connection, and each was a
/// new string per forwarded call. Kestrel does the same for a connection's request headers. One per
/// <see cref="Http1Connection"/>, used by one exchange at a time (no locks); bounded whatever an instance
/// sends: <see cref="Slots"/> fields of at most <see cref="MaxLength"/> characters, replaced, never added to.
/// </summary>
internal sealed class ResponseValues
{
    /// <summary>How many fields of an answer are remembered (nginx sends 8 on a static file).</summary>
    public const int Slots = 16;

    /// <summary>The longest value remembered: a longer one (a cookie, a policy) is made anew each time.</summary>
    public const int MaxLength = 256;

    private readonly (string? Name, string Value)[] _slots = new (string?, string)[Slots];

    /// <summary>
    /// The value of the <paramref name="index"/>th field of an answer, named <paramref name="name"/>: the
    /// remembered string when its characters are <paramref name="value"/>'s bytes (Latin-1, one character per
    /// byte), else a new string, remembered in place of the one it differs from.
    /// </summary>
    /// <param name="index">The field's place in its answer: the same instance sends its fields in the same order.</param>
    /// <param name="name">The field's name as <see cref="ResponseFieldNames.Of"/> gave it (a known name is always one string).</param>
    /// <param name="value">The value's bytes, trimmed.</param>
    public string Get(int index, string name, ReadOnlySpan<byte> value)
    {
        var inPlace = index < Slots;
        if (inPlace && Is(index, name) && SameText(_slots[index].Value, value))
        {
            return _slots[index].Value;
        }

        // A field more or fewer before it in this answer: the name's place (or places) elsewhere.
        var named = -1;
        var free = -1;
        for (var i = 0; i < _slots.Length; i++)
        {
            if (Is(i, name))
            {
                if (SameText(_slots[i].Value, value))
                {
                    return _slots[i].Value;
                }

                named = named < 0 ? i : named;
            }
            else if (free < 0 && _slots[i].Name is null)
            {
                free = i;
            }
        }

        var text = Encoding.Latin1.GetString(value);
        if (value.Length <= MaxLength)
        {
            // Its own place when it holds the name or nothing (a name's second field keeps its own), else the
            // name's other place, a free one, or its place's field is dropped.
            var target = inPlace && (Is(index, name) || _slots[index].Name is null) ? index
                : named >= 0 ? named
                : free >= 0 ? free
                : inPlace ? index : -1;
            if (target >= 0)
            {
                _slots[target] = (name, text);
            }
        }

        return text;
    }

    /// <summary>Whether <paramref name="text"/> is what <paramref name="latin1"/> decodes to, without decoding it.</summary>
    internal static bool SameText(string text, ReadOnlySpan<byte> latin1)
    {
        if (text.Length != latin1.Length)
        {
            return false;
        }

        if (Ascii.Equals(latin1, text))
        {
            return true;
        }

        if (Ascii.IsValid(latin1))
        {
            return false; // ASCII bytes, and not these characters
        }

        for (var i = 0; i < latin1.Length; i++)
        {
            if (text[i] != (char)latin1[i])
            {
                return false;
            }
        }

        return true;
    }

    private bool Is(int slot, string name) => string.Equals(_slots[slot].Name, name, StringComparison.Ordinal);
}

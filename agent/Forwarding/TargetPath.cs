using System.Text;
using System.Text.Unicode;

namespace Sidecar.Forwarding;

/// <summary>
/// Decides whether a path (with its query) may be appended to an instance's <c>http://host:port</c>
/// (docs/forwarding.md#path-safety): origin-form only, so the authority is always the instance's.
/// Refused: anything not starting with one <c>/</c> (a scheme, <c>//authority</c>); spaces, control
/// characters, non-ASCII, <c>#</c> and backslashes as raw characters; malformed percent-escapes;
/// encoded control characters in the path; and dot segments that climb above the root under any
/// reading an upstream might apply: plain, percent-decoded (repeatedly: <c>%252e</c>), with
/// <c>%2f</c> and <c>\</c> as separators, and with <c>;params</c> stripped (Tomcat reads
/// <c>/..;/</c> as <c>/../</c>).
/// </summary>
internal static class TargetPath
{
    /// <summary>Null when <paramref name="target"/> is safe; otherwise why not, for the 400 problem's detail.</summary>
    public static string? Check(string target)
    {
        if (target.Length == 0 || target[0] != '/')
        {
            return "the path must start with '/'";
        }

        if (target.Length > 1 && target[1] is '/' or '\\')
        {
            return "the path must not start with '//' (that would name another host)";
        }

        var pathEnd = target.IndexOf('?', StringComparison.Ordinal);
        if (pathEnd < 0)
        {
            pathEnd = target.Length;
        }

        var escapes = false;
        for (var i = 0; i < target.Length; i++)
        {
            var c = target[i];
            if (c is '\r' or '\n')
            {
                return "CR and LF are not allowed";
            }

            if (c <= ' ' || c >= '\u007f')
            {
                return "spaces, control and non-ASCII characters must be percent-encoded";
            }

            if (c == '\\')
            {
                return "backslashes are not allowed";
            }

            if (c == '#')
            {
                return "a fragment ('#') is not part of a request";
            }

            if (c == '%')
            {
                if (i + 2 >= target.Length || !char.IsAsciiHexDigit(target[i + 1]) || !char.IsAsciiHexDigit(target[i + 2]))
                {
                    return "malformed percent-encoding";
                }

                escapes |= i < pathEnd;
            }
        }

        var path = target.AsSpan(0, pathEnd);
        if (!escapes)
        {
            // Only a ".." segment climbs (a ";params" stripped from it leaves it one): a path with no two dots in a row has none.
            return path.IndexOf("..") >= 0 && ClimbsAboveRoot(path) ? DotDot : null;
        }

        // Read as an upstream would after decoding, as many times as it takes.
        var decoded = path.ToString();
        for (var round = 0; round < 4 && decoded.Contains('%', StringComparison.Ordinal); round++)
        {
            var bytes = Decode(decoded);
            if (!Utf8.IsValid(bytes))
            {
                // Overlong forms such as %c0%ae ('.') fooled decoders for years.
                return "percent-encoded bytes in the path must be valid UTF-8";
            }

            decoded = Encoding.UTF8.GetString(bytes);
        }

        foreach (var c in decoded)
        {
            if (char.IsControl(c))
            {
                return "encoded control characters (such as %0d%0a) are not allowed in the path";
            }
        }

        return ClimbsAboveRoot(decoded) || SegmentsClimbAboveRoot(path) ? DotDot : null;
    }

    private const string DotDot = "'..' segments must not climb above the root";

    /// <summary>Splits on '/' and '\', strips ';params', and walks the dot segments.</summary>
    private static bool ClimbsAboveRoot(ReadOnlySpan<char> path)
    {
        var depth = 0;
        foreach (var range in path.SplitAny('/', '\\'))
        {
            if (Step(path[range], ref depth))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Each raw segment decoded alone (an encoded '/' stays inside it), as servers that decode after splitting do.</summary>
    private static bool SegmentsClimbAboveRoot(ReadOnlySpan<char> path)
    {
        var depth = 0;
        foreach (var range in path.Split('/'))
        {
            var segment = path[range].ToString();
            for (var round = 0; round < 4 && segment.Contains('%', StringComparison.Ordinal); round++)
            {
                segment = Encoding.UTF8.GetString(Decode(segment));
            }

            if (Step(segment, ref depth))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Step(ReadOnlySpan<char> segment, ref int depth)
    {
        var semicolon = segment.IndexOf(';');
        if (semicolon >= 0)
        {
            segment = segment[..semicolon];
        }

        if (segment.SequenceEqual(".."))
        {
            return --depth < 0;
        }

        if (segment.Length > 0 && !segment.SequenceEqual("."))
        {
            depth++;
        }

        return false;
    }

    private static byte[] Decode(string text)
    {
        var result = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '%' && i + 2 < text.Length && char.IsAsciiHexDigit(text[i + 1]) && char.IsAsciiHexDigit(text[i + 2]))
            {
                result.Add((byte)((HexValue(text[i + 1]) << 4) | HexValue(text[i + 2])));
                i += 2;
            }
            else if (c < 0x80)
            {
                result.Add((byte)c);
            }
            else
            {
                result.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
            }
        }

        return [.. result];
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

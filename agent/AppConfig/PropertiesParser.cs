using System.Globalization;
using System.Text;

namespace Sidecar.AppConfig;

/// <summary>
/// A Java <c>.properties</c> file as <c>java.util.Properties.load</c> reads it: <c>key=value</c>,
/// <c>key: value</c> or <c>key value</c>; <c>#</c> and <c>!</c> comments; a trailing backslash continues
/// the line; <c>\t \n \r \f \uXXXX</c> escapes. Read as UTF-8, as Spring Boot does.
/// </summary>
internal static class PropertiesParser
{
    /// <exception cref="FormatException">On a malformed <c>\u</c> escape.</exception>
    public static Dictionary<string, string> Parse(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        var logical = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            var firstLine = i + 1;
            var line = lines[i].TrimStart(' ', '\t', '\f');
            if (line.Length == 0 || line[0] is '#' or '!')
            {
                continue;
            }

            logical.Clear();
            while (EndsWithContinuation(line) && i + 1 < lines.Length)
            {
                logical.Append(line, 0, line.Length - 1);
                line = lines[++i].TrimStart(' ', '\t', '\f');
            }

            logical.Append(EndsWithContinuation(line) ? line[..^1] : line);
            var (key, value) = Split(logical.ToString(), firstLine);
            result[key] = value;
        }

        return result;
    }

    // An odd number of trailing backslashes: the last one escapes the line break.
    private static bool EndsWithContinuation(string line)
    {
        var count = 0;
        for (var i = line.Length - 1; i >= 0 && line[i] == '\\'; i--)
        {
            count++;
        }

        return count % 2 == 1;
    }

    private static (string Key, string Value) Split(string line, int lineNumber)
    {
        var keyEnd = 0;
        while (keyEnd < line.Length && line[keyEnd] is not ('=' or ':' or ' ' or '\t' or '\f'))
        {
            keyEnd += line[keyEnd] == '\\' ? 2 : 1;
        }

        keyEnd = Math.Min(keyEnd, line.Length);
        var valueStart = keyEnd;
        while (valueStart < line.Length && line[valueStart] is ' ' or '\t' or '\f')
        {
            valueStart++;
        }

        if (valueStart < line.Length && line[valueStart] is '=' or ':')
        {
            valueStart++;
            while (valueStart < line.Length && line[valueStart] is ' ' or '\t' or '\f')
            {
                valueStart++;
            }
        }

        return (Unescape(line[..keyEnd], lineNumber), Unescape(line[valueStart..], lineNumber));
    }

    private static string Unescape(string text, int lineNumber)
    {
        if (!text.Contains('\\', StringComparison.Ordinal))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c != '\\' || i + 1 == text.Length)
            {
                builder.Append(c);
                continue;
            }

            c = text[++i];
            switch (c)
            {
                case 't': builder.Append('\t'); break;
                case 'n': builder.Append('\n'); break;
                case 'r': builder.Append('\r'); break;
                case 'f': builder.Append('\f'); break;
                case 'u':
                    if (text.Length - i - 1 < 4 ||
                        !ushort.TryParse(text.AsSpan(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                    {
                        throw new FormatException($"malformed \\uXXXX escape at line {lineNumber}");
                    }

                    builder.Append((char)code);
                    i += 4;
                    break;
                default: builder.Append(c); break;
            }
        }

        return builder.ToString();
    }
}

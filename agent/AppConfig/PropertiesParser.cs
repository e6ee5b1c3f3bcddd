using System.Globalization;
using System.Text;

namespace Sidecar.AppConfig;

/// <summary>
/// A Java <c>.properties</c> file as <c>java.util.Properties.load</c> reads it: <c>key=value</c>,
/// <c>key: value</c> or <c>key value</c>; <c>#</c> and <c>!</c> comments; a trailing backslash continues
/// the line; <c>\t \n \r \f \uXXXX</c> escapes. Read as UTF-8, as Spring Boot does. As Spring Boot's
/// <c>OriginTrackedPropertiesLoader</c>, a line <c>#---</c> or <c>!---</c> (at the start of the line, not
/// right after a comment with the same prefix) starts a new document; each document that applies to the
/// active profiles (<see cref="ProfileActivation"/>) is a source of its own, later ones winning.
/// </summary>
internal static class PropertiesParser
{
    /// <summary>The documents that apply to <paramref name="profiles"/>, in file order, without their activation keys.</summary>
    /// <exception cref="FormatException">On a malformed <c>\u</c> escape or profile expression.</exception>
    public static List<Dictionary<string, string>> Parse(string text, IReadOnlyList<string> profiles)
    {
        var documents = new List<Dictionary<string, string>>();
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        var logical = new StringBuilder();
        char? previousComment = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var firstLine = i + 1;
            if (IsSeparator(lines[i]) && previousComment != lines[i][0])
            {
                Add(documents, result, profiles);
                result = new Dictionary<string, string>(StringComparer.Ordinal);
                previousComment = null;
                continue;
            }

            var line = lines[i].TrimStart(' ', '\t', '\f');
            previousComment = line.Length > 0 && line[0] is '#' or '!' ? line[0] : null;
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

        Add(documents, result, profiles);
        return documents;
    }

    // "#---" or "!---" from the first column, then nothing but white space.
    private static bool IsSeparator(string line) =>
        line.Length >= 4 && line[0] is '#' or '!' && line.AsSpan(1, 3).SequenceEqual("---") && line.AsSpan(4).Trim(" \t\f").IsEmpty;

    private static void Add(List<Dictionary<string, string>> documents, Dictionary<string, string> document, IReadOnlyList<string> profiles)
    {
        if (document.Count > 0 && ProfileActivation.Applies(document, profiles) && document.Count > 0)
        {
            documents.Add(document);
        }
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

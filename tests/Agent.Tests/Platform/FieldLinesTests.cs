using System.Text;
using Sidecar.Platform;

namespace Sidecar.Tests.Platform;

/// <summary>A head's field line of the common shape, read in one pass: exactly the lines of that shape, wherever a byte is.</summary>
[Trait("Category", "Unit")]
public sealed class FieldLinesTests
{
    [Fact]
    public void LineBytes_AreTheTokensAndTheValuesBytes()
    {
        const string TChar = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for (var b = 0; b < 256; b++)
        {
            var classes = FieldLines.LineBytes[b];
            Assert.True(((classes & 1) != 0) == TChar.Contains((char)b, StringComparison.Ordinal), $"name byte 0x{b:x2}");
            Assert.True(((classes & 2) != 0) == !FieldLists.ControlBytes.Contains((byte)b), $"value byte 0x{b:x2}");
        }
    }

    [Fact]
    public void Scan_TakesExactlyTheLinesOfTheCommonShape_ForEveryLineOfTenBytesUpToSix()
    {
        // Every line of up to 6 bytes over a name's byte, a colon, SP, HTAB, CR, LF, NUL, DEL, obs-text and a separator,
        // then CRLF (1,111,111 lines): taken when, and only when, it is a token, a colon and a value of no control byte.
        byte[] alphabet = [(byte)'a', (byte)':', (byte)' ', (byte)'\t', (byte)'\r', (byte)'\n', 0, 0x7F, 0xE9, (byte)'('];
        var shape = Shape();
        var taken = 0;
        for (var length = 0; length <= 6; length++)
        {
            var line = new byte[length + 2];
            line[length] = (byte)'\r';
            line[length + 1] = (byte)'\n';
            for (var n = 0; n < (int)Math.Pow(10, length); n++)
            {
                for (int i = 0, rest = n; i < length; i++, rest /= 10)
                {
                    line[i] = alphabet[rest % 10];
                }

                taken += Check(shape, line) ? 1 : 0;
            }
        }

        Assert.True(taken > 1000, $"{taken} lines taken");
    }

    [Fact]
    public void Scan_ReadsLongNamesAndValuesSixteenBytesAtATime_AsItReadsThemOneAtATime()
    {
        // A 20-byte name and a 40-byte value (more than two blocks of sixteen) with every byte at every place, and every
        // pair of bytes near the limits at every two places of the name, or of the value: the blocks stop where the table would.
        byte[] nearName = [(byte)':', (byte)'-', (byte)'_', (byte)'A', (byte)'Z', (byte)'a', (byte)'z', (byte)'0', (byte)'9', (byte)'@', (byte)'[', (byte)'`', (byte)'{', (byte)'/', 0x20, 0xC1];
        byte[] nearValue = [0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0xFF];
        var shape = Shape();
        var template = Encoding.ASCII.GetBytes($"{new string('x', 20)}:{new string('y', 40)}\r\n");
        var checkedLines = 0;
        void Vary(int from, int to, byte[] near)
        {
            for (var at = from; at < to; at++)
            {
                for (var b = 0; b < 256; b++)
                {
                    var line = (byte[])template.Clone();
                    line[at] = (byte)b;
                    Check(shape, line);
                    checkedLines++;
                }

                for (var second = at + 1; second < to; second++)
                {
                    foreach (var x in near)
                    {
                        foreach (var y in near)
                        {
                            var line = (byte[])template.Clone();
                            line[at] = x;
                            line[second] = y;
                            Check(shape, line);
                            checkedLines++;
                        }
                    }
                }
            }
        }

        Vary(0, 20, nearName);
        Vary(21, 61, nearValue);

        Assert.Equal((60 * 256) + (20 * 19 / 2 * nearName.Length * nearName.Length) + (40 * 39 / 2 * nearValue.Length * nearValue.Length), checkedLines);
    }

    // The line alone, and followed by the next line and the head's end (where the blocks of sixteen reach further): taken
    // when, and only when, it has the shape, with its colon, its end and its value where the general reading finds them.
    private static bool Check(System.Text.RegularExpressions.Regex shape, byte[] line)
    {
        var text = Encoding.Latin1.GetString(line);
        var match = shape.Match(text);
        foreach (var rest in new[] { line, [.. line, .. "Next-Field: its value\r\n\r\n"u8] })
        {
            var end = FieldLines.Scan(rest, out var colon, out var valueStart, out var valueEnd);
            if (!match.Success)
            {
                Assert.True(end == -1, $"taken: {Escaped(text)}");
                continue;
            }

            Assert.True(end == match.Length - 2 && colon == match.Groups[1].Length, $"{Escaped(text)}: {end}, {colon}");
            AssertTrimmed(line, colon, end, valueStart, valueEnd);
        }

        return match.Success;
    }

    // A field line of the common shape: a token, a colon, a value of no control byte but HTAB, then CRLF.
    private static System.Text.RegularExpressions.Regex Shape() =>
        new("^([!#$%&'*+\\-.^_`|~0-9A-Za-z]+):[\\t\\x20-\\x7E\\x80-\\xFF]*\r\n", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    // The value's place is where FieldLists.TrimOws puts it (the general reading's).
    private static void AssertTrimmed(byte[] line, int colon, int end, int valueStart, int valueEnd)
    {
        var value = FieldLists.TrimOws(line.AsSpan(colon + 1, end - colon - 1), out var skipped);
        Assert.True(valueStart == colon + 1 + skipped && valueEnd == valueStart + value.Length, $"{Escaped(Encoding.Latin1.GetString(line))}: value {valueStart}..{valueEnd}");
    }

    private static string Escaped(string text) =>
        text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\0", "\\0", StringComparison.Ordinal);
}

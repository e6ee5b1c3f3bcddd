using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Bench;

/// <summary>The little HTTP/1.1 the bench references need (bench/floor, bench/kestrel's forwarding modes): heads and Content-Length framing only.</summary>
internal static class Http
{
    /// <summary>The head's length with its blank line, or -1 while the blank line is not in <paramref name="data"/>.</summary>
    public static int HeadLength(ReadOnlySpan<byte> data)
    {
        var end = data.IndexOf("\r\n\r\n"u8);
        return end < 0 ? -1 : end + 4;
    }

    /// <summary>Where the first head in <paramref name="buffer"/> ends (after its blank line), or null while it is incomplete.</summary>
    public static SequencePosition? HeadEnd(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8) ? reader.Position : null;
    }

    /// <summary>The Content-Length header's value, or -1 without one.</summary>
    public static long ContentLength(ReadOnlySpan<byte> head)
    {
        var name = "content-length:"u8;
        while (head.IndexOf("\r\n"u8) is var end and >= 0)
        {
            var line = head[..end];
            head = head[(end + 2)..];
            if (line.Length > name.Length && Ascii.EqualsIgnoreCase(line[..name.Length], name))
            {
                return Utf8Parser.TryParse(line[name.Length..].Trim((byte)' '), out long length, out _) ? length : -1;
            }
        }

        return -1;
    }
}

using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sidecar.Platform;

/// <summary>
/// A head's field line of the common shape, read in one pass (docs/performance.md#fewer-instructions-per-call-2026-12-05-eleventh-session):
/// the request's (<see cref="HeadFields"/>) and the answer's (<c>ResponseHeadParser</c>) readers take such a line
/// here and leave any other to their general reading. Sixteen bytes at a time while the bytes are the usual ones, then a
/// byte at a time through a table: for a head's short lines, the general reading's vectorized searches (the line's end,
/// the colon, the name's bytes, the value's) cost several times more to start than this takes.
/// </summary>
internal static class FieldLines
{
    /// <summary>
    /// The length of a field line of the common shape at the start of <paramref name="rest"/> (a token, a colon, a value
    /// of no control character, then CRLF), its colon's index and where its value starts and ends without the white
    /// space around it (<see cref="FieldLists.TrimOws(ReadOnlySpan{byte})"/>'s); -1 for any other line (the empty one that ends
    /// the head, or one the general reading judges). A reader takes such a line as its general reading would, with none
    /// of that reading's searches.
    /// </summary>
    public static int Scan(ReadOnlySpan<byte> rest, out int colon, out int valueStart, out int valueEnd)
    {
        valueStart = valueEnd = 0;
        var classes = LineBytes;

        // The name: sixteen bytes at a time while they are letters, digits and '-' (most names are), then a byte at a time
        // through the table from the first that is not one (an exact test of each byte: no borrow between them).
        var i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            while (i <= rest.Length - 16)
            {
                var others = ~NameLike(Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(rest), (nuint)i)).ExtractMostSignificantBits() & 0xFFFF;
                if (others != 0)
                {
                    i += BitOperations.TrailingZeroCount(others);
                    break;
                }

                i += 16;
            }
        }

        while (i < rest.Length && (classes[rest[i]] & NameByte) != 0)
        {
            i++;
        }

        colon = i;
        if (i == 0 || i >= rest.Length || rest[i] != (byte)':')
        {
            return -1;
        }

        // The white space before the value, then the value sixteen bytes at a time while none is below 0x20 or DEL, then
        // from the first such byte (a CR, or HTAB, or one refused) a byte at a time.
        i++;
        while (i < rest.Length && IsOws(rest[i]))
        {
            i++;
        }

        var start = i;
        if (Vector128.IsHardwareAccelerated)
        {
            while (i <= rest.Length - 16)
            {
                var bytes = Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(rest), (nuint)i);
                var controls = (Vector128.LessThan(bytes, Vector128.Create((byte)0x20)) | Vector128.Equals(bytes, Vector128.Create((byte)0x7F))).ExtractMostSignificantBits();
                if (controls != 0)
                {
                    i += BitOperations.TrailingZeroCount(controls);
                    break;
                }

                i += 16;
            }
        }

        while (i < rest.Length && (classes[rest[i]] & ValueByte) != 0)
        {
            i++;
        }

        if (i + 1 >= rest.Length || rest[i] != (byte)'\r' || rest[i + 1] != (byte)'\n')
        {
            return -1;
        }

        var end = i;
        while (end > start && IsOws(rest[end - 1]))
        {
            end--;
        }

        valueStart = start;
        valueEnd = end;
        return i;
    }

    // Each byte's top bit set when it is an ASCII letter (either case: its 0x20 bit set, a letter's and only a letter's
    // other case lands on a lower-case one), a digit or '-'.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> NameLike(Vector128<byte> bytes) =>
        Vector128.LessThanOrEqual((bytes | Vector128.Create((byte)0x20)) - Vector128.Create((byte)'a'), Vector128.Create((byte)('z' - 'a'))) |
        Vector128.LessThanOrEqual(bytes - Vector128.Create((byte)'0'), Vector128.Create((byte)9)) |
        Vector128.Equals(bytes, Vector128.Create((byte)'-'));

    private static bool IsOws(byte b) => b == (byte)' ' || b == (byte)'\t';

    private const byte NameByte = 1;
    private const byte ValueByte = 2;

    // Each byte's classes: NameByte for RFC 9110's tchar, ValueByte for one a field value may hold (not in
    // FieldLists.ControlBytes: HTAB, SP, VCHAR, obs-text). A test compares it with both sets.
    internal static ReadOnlySpan<byte> LineBytes =>
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, // 0x00
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0x10
        2, 3, 2, 3, 3, 3, 3, 3, 2, 2, 3, 3, 2, 3, 3, 2, // 0x20
        3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, // 0x30
        2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, // 0x40
        3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 3, 3, // 0x50
        3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, // 0x60
        3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 2, 3, 0, // 0x70
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, // 0x80
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, // 0x90
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, // 0xa0
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, // 0xb0
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, // 0xc0
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, // 0xd0
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, // 0xe0
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, // 0xf0
    ];
}

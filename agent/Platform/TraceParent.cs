using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sidecar.Platform;

/// <summary>The W3C Trace Context <c>traceparent</c> header: <c>00-{32 hex trace-id}-{16 hex parent-id}-{2 hex flags}</c>.</summary>
internal static class TraceParent
{
    /// <summary>The length of a version-00 value (and of a new trace's).</summary>
    public const int Length = 55;

    /// <summary>A well-formed value: version not <c>ff</c>, lower-case hex, ids not all zero; longer only for future versions.</summary>
    public static bool IsValid(string? value)
    {
        if (value is null || value.Length < Length)
        {
            return false;
        }

        var span = value.AsSpan();
        if (!IsHex(span[..2]) || span[..2].SequenceEqual("ff") || span[2] != '-' || span[35] != '-' || span[52] != '-')
        {
            return false;
        }

        if (value.Length > Length && (span[..2].SequenceEqual("00") || span[Length] != '-'))
        {
            return false;
        }

        var traceId = span.Slice(3, 32);
        var parentId = span.Slice(36, 16);
        return IsHex(traceId) && IsHex(parentId) && IsHex(span.Slice(53, 2)) && !IsZero(traceId) && !IsZero(parentId);
    }

    /// <summary>
    /// A new trace with random ids. The flags are <c>00</c> (not sampled): the agent records nothing, so it
    /// does not claim to (the sampled flag means the caller may have recorded data).
    /// </summary>
    public static string Create() => NewTrace.Create().ToString();

    /// <summary>The ids of <paramref name="random"/> (16 bytes of trace id, 8 of parent id) as a value with flags <c>00</c>.</summary>
    internal static void Format(ReadOnlySpan<byte> random, Span<char> chars)
    {
        "00-".CopyTo(chars);
        Hex(random[..16], chars.Slice(3, 32));
        chars[35] = '-';
        Hex(random[16..], chars.Slice(36, 16));
        "-00".CopyTo(chars[52..]);
    }

    /// <summary>As <see cref="Format(ReadOnlySpan{byte}, Span{char})"/>, into ASCII bytes (a request head's, with no encoding after).</summary>
    internal static void Format(ReadOnlySpan<byte> random, Span<byte> ascii)
    {
        "00-"u8.CopyTo(ascii);
        Hex(random[..16], ascii.Slice(3, 32));
        ascii[35] = (byte)'-';
        Hex(random[16..], ascii.Slice(36, 16));
        "-00"u8.CopyTo(ascii[52..]);
    }

    // Lower-case hex, a byte at a time, each byte's two digits one 32-bit store from a table of the 256 pairs (a string:
    // its characters lie in memory as the pair's two, whatever the byte order). Convert's vector path costs more for
    // 24 bytes once per call (its shuffle is a call on the processors NativeAOT targets by default;
    // docs/performance.md#fewer-lookups-per-call-2026-12-04-third-session), and a digit at a time cost half again as much (510
    // instructions a call against 326: docs/performance.md#fewer-instructions-per-call-2026-12-05-eleventh-session).
    private static void Hex(ReadOnlySpan<byte> bytes, Span<char> chars)
    {
        var pairs = MemoryMarshal.Cast<char, uint>(HexPairs.AsSpan());
        var output = MemoryMarshal.Cast<char, uint>(chars[..(bytes.Length * 2)]);
        for (var i = 0; i < bytes.Length; i++)
        {
            output[i] = pairs[bytes[i]];
        }
    }

    // The same, each byte's two digits one 16-bit store from the table's ASCII twin, with no bounds checks: the table
    // has a pair for every byte value, and the output holds two bytes for each byte (checked once).
    private static void Hex(ReadOnlySpan<byte> bytes, Span<byte> ascii)
    {
        if (ascii.Length < bytes.Length * 2)
        {
            throw new ArgumentException("two bytes of output for each byte", nameof(ascii));
        }

        ref var pairs = ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetArrayDataReference(HexPairBytes));
        ref var output = ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(ascii));
        ref var input = ref MemoryMarshal.GetReference(bytes);
        for (var i = 0; i < bytes.Length; i++)
        {
            Unsafe.WriteUnaligned(ref Unsafe.As<ushort, byte>(ref Unsafe.Add(ref output, i)), Unsafe.Add(ref pairs, Unsafe.Add(ref input, i)));
        }
    }

    // "000102...feff": 256 pairs of lower-case hex digits.
    private static readonly string HexPairs = string.Create(512, 0, static (chars, _) =>
    {
        const string Digits = "0123456789abcdef";
        for (var b = 0; b < 256; b++)
        {
            chars[2 * b] = Digits[b >> 4];
            chars[(2 * b) + 1] = Digits[b & 0xF];
        }
    });

    private static readonly byte[] HexPairBytes = System.Text.Encoding.ASCII.GetBytes(HexPairs);

    internal static bool IsZeroBytes(ReadOnlySpan<byte> span) => !span.ContainsAnyExcept((byte)0);

    private static bool IsHex(ReadOnlySpan<char> span)
    {
        foreach (var c in span)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsZero(ReadOnlySpan<char> span) => !span.ContainsAnyExcept('0');
}

/// <summary>
/// A new trace's random ids (<see cref="TraceParent.Create"/>), kept as bytes: written into a request head from the stack
/// (<see cref="Format"/>), made a string only where one is kept (a log line's ids, a message's header).
/// </summary>
internal readonly struct NewTrace
{
    private readonly ulong _trace0;
    private readonly ulong _trace1;
    private readonly ulong _parent;

    private NewTrace(ReadOnlySpan<byte> random)
    {
        _trace0 = MemoryMarshal.Read<ulong>(random);
        _trace1 = MemoryMarshal.Read<ulong>(random[8..]);
        _parent = MemoryMarshal.Read<ulong>(random[16..]);
    }

    /// <summary>The length of its <c>traceparent</c> value.</summary>
    public const int Length = TraceParent.Length;

    /// <summary>Random ids, neither all zero.</summary>
    public static NewTrace Create()
    {
        Span<byte> random = stackalloc byte[24];
        do
        {
            Random.Shared.NextBytes(random);
        }
        while (TraceParent.IsZeroBytes(random[..16]) || TraceParent.IsZeroBytes(random[16..]));

        return new NewTrace(random);
    }

    /// <summary>Writes its <c>traceparent</c> value (<see cref="Length"/> characters).</summary>
    public void Format(Span<char> chars)
    {
        Span<byte> random = stackalloc byte[24];
        TraceParent.Format(Ids(random), chars);
    }

    /// <summary>Writes its <c>traceparent</c> value as ASCII (<see cref="Length"/> bytes).</summary>
    public void Format(Span<byte> ascii)
    {
        Span<byte> random = stackalloc byte[24];
        TraceParent.Format(Ids(random), ascii);
    }

    // Its ids as the 24 random bytes they were made from.
    private Span<byte> Ids(Span<byte> random)
    {
        MemoryMarshal.Write(random, in _trace0);
        MemoryMarshal.Write(random[8..], in _trace1);
        MemoryMarshal.Write(random[16..], in _parent);
        return random;
    }

    public override string ToString() => string.Create(Length, this, static (chars, trace) => trace.Format(chars));
}

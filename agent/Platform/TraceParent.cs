namespace Sidecar.Platform;

/// <summary>The W3C Trace Context <c>traceparent</c> header: <c>00-{32 hex trace-id}-{16 hex parent-id}-{2 hex flags}</c>.</summary>
internal static class TraceParent
{
    private const int Length = 55;

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
    public static string Create() => string.Create(Length, 0, static (chars, _) =>
    {
        Span<byte> random = stackalloc byte[24];
        do
        {
            Random.Shared.NextBytes(random);
        }
        while (IsZeroBytes(random[..16]) || IsZeroBytes(random[16..]));

        "00-".CopyTo(chars);
        Convert.TryToHexStringLower(random[..16], chars.Slice(3, 32), out _);
        chars[35] = '-';
        Convert.TryToHexStringLower(random[16..], chars.Slice(36, 16), out _);
        "-00".CopyTo(chars[52..]);
    });

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

    private static bool IsZeroBytes(ReadOnlySpan<byte> span) => !span.ContainsAnyExcept((byte)0);
}

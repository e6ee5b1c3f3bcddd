using System.Runtime.InteropServices;
using System.Text;

namespace Sidecar.Forwarding;

/// <summary>What a request field's name means to the proxy's rules (<see cref="ProxyHeaders"/>).</summary>
internal enum FieldKind : byte
{
    /// <summary>Forwarded as it came.</summary>
    Other,

    /// <summary>Concerns one connection only (RFC 9110 section 7.6.1): Connection, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade.</summary>
    HopByHop,

    /// <summary>Written by the forwarder itself, or meaningless upstream: Host, Content-Length, Expect, X-Forwarded-For/-Proto/-Host, Via, HTTP/2 pseudo-fields, an empty name.</summary>
    Replaced,

    /// <summary><c>Forwarded</c> (RFC 7239): this hop is appended.</summary>
    Forwarded,

    /// <summary><c>X-Real-IP</c>: the address the agent saw replaces it.</summary>
    RealIp,

    /// <summary><c>traceparent</c>, <c>tracestate</c>: written by the agent when W3C Trace Context is configured.</summary>
    TraceContext,

    /// <summary><c>b3</c>, <c>X-B3-*</c>: written by the agent when a B3 format is configured.</summary>
    B3,
}

/// <summary>What an answer's field name means to the proxy's rules (<see cref="FieldNames.ClassifyAnswer"/>).</summary>
internal enum AnswerFieldKind : byte
{
    /// <summary>Passed on as it came.</summary>
    Other,

    /// <summary>Concerns one connection only, dropped: Keep-Alive, Proxy-*, TE, Trailer, Upgrade.</summary>
    HopByHop,

    /// <summary><c>Connection</c>: hop-by-hop, and it may name other fields to drop, or say the connection closes.</summary>
    Connection,

    /// <summary><c>Transfer-Encoding</c>: hop-by-hop, and it frames the body.</summary>
    TransferEncoding,

    /// <summary><c>Content-Length</c>: passed on, and it frames the body.</summary>
    ContentLength,

    /// <summary><c>Date</c>: passed on (then the agent writes none).</summary>
    Date,

    /// <summary><c>Retry-After</c>: passed on, and read by the retry rules.</summary>
    RetryAfter,
}

/// <summary>
/// The one table of the field names the forwarding rules know (docs/performance.md#the-exchange), read the same way
/// whether a name is Kestrel's string or the characters of the head's bytes (<see cref="Platform.HeadFields"/>).
/// </summary>
internal static class FieldNames
{
    public static FieldKind Classify(ReadOnlySpan<char> name)
    {
        if (name.Length == 0 || name[0] == ':')
        {
            return FieldKind.Replaced;
        }

        if (name.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase))
        {
            return FieldKind.HopByHop;
        }

        if (name.StartsWith("X-B3-", StringComparison.OrdinalIgnoreCase))
        {
            return FieldKind.B3;
        }

        return name.Length switch
        {
            2 => Is(name, "TE") ? FieldKind.HopByHop : Is(name, "b3") ? FieldKind.B3 : FieldKind.Other,
            3 => Is(name, "Via") ? FieldKind.Replaced : FieldKind.Other,
            4 => Is(name, "Host") ? FieldKind.Replaced : FieldKind.Other,
            6 => Is(name, "Expect") ? FieldKind.Replaced : FieldKind.Other,
            7 => Is(name, "Upgrade") || Is(name, "Trailer") ? FieldKind.HopByHop : FieldKind.Other,
            9 => Is(name, "Forwarded") ? FieldKind.Forwarded : Is(name, "X-Real-IP") ? FieldKind.RealIp : FieldKind.Other,
            10 => Is(name, "Connection") || Is(name, "Keep-Alive") ? FieldKind.HopByHop : Is(name, "tracestate") ? FieldKind.TraceContext : FieldKind.Other,
            11 => Is(name, "traceparent") ? FieldKind.TraceContext : FieldKind.Other,
            14 => Is(name, "Content-Length") ? FieldKind.Replaced : FieldKind.Other,
            15 => Is(name, "X-Forwarded-For") ? FieldKind.Replaced : FieldKind.Other,
            16 => Is(name, "X-Forwarded-Host") ? FieldKind.Replaced : FieldKind.Other,
            17 => Is(name, "X-Forwarded-Proto") ? FieldKind.Replaced : Is(name, "Transfer-Encoding") ? FieldKind.HopByHop : FieldKind.Other,
            _ => FieldKind.Other,
        };
    }

    /// <summary>
    /// The kind of an answer's field name as it came (a token, as the head's parser checked): the same hop-by-hop names as
    /// <see cref="Classify"/>'s (a test compares them), and the names the answer's framing and the retry rules read.
    /// </summary>
    public static AnswerFieldKind ClassifyAnswer(ReadOnlySpan<byte> name)
    {
        if (name.Length >= 6 && EqualsFolded(name[..6], "proxy-"u8))
        {
            return AnswerFieldKind.HopByHop;
        }

        return name.Length switch
        {
            2 => EqualsFolded(name, "te"u8) ? AnswerFieldKind.HopByHop : AnswerFieldKind.Other,
            4 => EqualsFolded(name, "date"u8) ? AnswerFieldKind.Date : AnswerFieldKind.Other,
            7 => EqualsFolded(name, "upgrade"u8) || EqualsFolded(name, "trailer"u8) ? AnswerFieldKind.HopByHop : AnswerFieldKind.Other,
            10 => EqualsFolded(name, "connection"u8) ? AnswerFieldKind.Connection : EqualsFolded(name, "keep-alive"u8) ? AnswerFieldKind.HopByHop : AnswerFieldKind.Other,
            11 => EqualsFolded(name, "retry-after"u8) ? AnswerFieldKind.RetryAfter : AnswerFieldKind.Other,
            14 => EqualsFolded(name, "content-length"u8) ? AnswerFieldKind.ContentLength : AnswerFieldKind.Other,
            17 => EqualsFolded(name, "transfer-encoding"u8) ? AnswerFieldKind.TransferEncoding : AnswerFieldKind.Other,
            _ => AnswerFieldKind.Other,
        };
    }

    /// <summary>Whether a field of <paramref name="kind"/> is one the agent writes itself in the configured trace formats.</summary>
    public static bool IsTraceReplaced(FieldKind kind, Observability.Propagators formats) => kind switch
    {
        FieldKind.TraceContext => (formats & Observability.Propagators.TraceContext) != 0,
        FieldKind.B3 => (formats & (Observability.Propagators.B3 | Observability.Propagators.B3Multi)) != 0,
        _ => false,
    };

    private static bool Is(ReadOnlySpan<char> name, string known) => name.Equals(known, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Whether <paramref name="bytes"/> (a token, or a value of a head the parser took: neither holds a CR) equal
    /// <paramref name="lower"/> (lower-case letters and '-') in any casing: each byte's 0x20 bit set, eight at a time.
    /// Only a letter's other case folds onto a letter, and only a CR onto '-'.
    /// About 37 instructions a name where <see cref="Ascii.EqualsIgnoreCase(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/> took 57
    /// (docs/performance.md#fewer-instructions-per-call-2026-12-05-eleventh-session).
    /// </summary>
    internal static bool EqualsFolded(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> lower)
    {
        var length = lower.Length;
        if (bytes.Length != length)
        {
            return false;
        }

        if (length >= 8)
        {
            for (var i = 0; i < length - 8; i += 8)
            {
                if ((MemoryMarshal.Read<ulong>(bytes[i..]) | 0x2020202020202020) != MemoryMarshal.Read<ulong>(lower[i..]))
                {
                    return false;
                }
            }

            return (MemoryMarshal.Read<ulong>(bytes[(length - 8)..]) | 0x2020202020202020) == MemoryMarshal.Read<ulong>(lower[(length - 8)..]);
        }

        if (length >= 4)
        {
            return (MemoryMarshal.Read<uint>(bytes) | 0x20202020) == MemoryMarshal.Read<uint>(lower) &&
                (MemoryMarshal.Read<uint>(bytes[(length - 4)..]) | 0x20202020) == MemoryMarshal.Read<uint>(lower[(length - 4)..]);
        }

        if (length >= 2)
        {
            return (MemoryMarshal.Read<ushort>(bytes) | 0x2020) == MemoryMarshal.Read<ushort>(lower) &&
                (MemoryMarshal.Read<ushort>(bytes[(length - 2)..]) | 0x2020) == MemoryMarshal.Read<ushort>(lower[(length - 2)..]);
        }

        return length == 0 || (bytes[0] | 0x20) == lower[0];
    }
}

using System.Buffers.Binary;
using System.Text;

namespace Sidecar.Health;

/// <summary>
/// The bytes of one <c>grpc.health.v1.Health/Check</c> call and the judgement of its answer (docs/app-health.md#grpc-checks).
/// The two messages are written and read by hand: <c>HealthCheckRequest{string service = 1}</c> and
/// <c>HealthCheckResponse{ServingStatus status = 1}</c> are a few bytes each, and a protobuf library (with its
/// reflection or generated code) would weigh more in the NativeAOT binary than these forty lines.
/// </summary>
internal static class GrpcHealthWire
{
    /// <summary>The path of the call, the same for every server (the service asked about travels in the message).</summary>
    public const string CheckPath = "/grpc.health.v1.Health/Check";

    /// <summary>A health answer is a few bytes; more than this is not one (and is not buffered).</summary>
    public const int MaxAnswerBytes = 64 * 1024;

    private const int PrefixLength = 5; // 1 byte "compressed" flag, 4 bytes big-endian message length

    /// <summary>The request body: the 5-byte gRPC prefix, then <c>HealthCheckRequest</c> (field 1 omitted when empty, as proto3 does).</summary>
    public static byte[] EncodeRequest(string service)
    {
        var name = Encoding.UTF8.GetBytes(service);
        var message = name.Length == 0 ? 0 : 1 + VarintLength((uint)name.Length) + name.Length;
        var frame = new byte[PrefixLength + message];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message);
        if (name.Length > 0)
        {
            var at = PrefixLength;
            frame[at++] = 0x0A; // field 1, wire type 2 (length-delimited)
            for (var length = (uint)name.Length; ; length >>= 7)
            {
                if (length < 0x80)
                {
                    frame[at++] = (byte)length;
                    break;
                }

                frame[at++] = (byte)(length | 0x80);
            }

            name.CopyTo(frame, at);
        }

        return frame;
    }

    /// <summary>
    /// Reads <c>HealthCheckResponse.status</c> from a response body (one gRPC frame). Unknown fields are skipped, as
    /// protobuf requires; an absent status is 0 (UNKNOWN). Null with <paramref name="error"/> when the body is not one frame.
    /// </summary>
    public static int? DecodeStatus(ReadOnlySpan<byte> body, out string? error)
    {
        error = null;
        if (body.Length < PrefixLength)
        {
            error = body.Length == 0 ? "no message in the answer" : "a truncated gRPC frame";
            return null;
        }

        if (body[0] != 0)
        {
            error = "a compressed message (none was asked for)";
            return null;
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(body[1..]);
        if (length != body.Length - PrefixLength)
        {
            error = length > body.Length - PrefixLength ? "a truncated gRPC frame" : "more than one message in the answer";
            return null;
        }

        var message = body[PrefixLength..];
        var status = 0;
        while (!message.IsEmpty)
        {
            if (!TryReadVarint(ref message, out var tag))
            {
                return Malformed(out error);
            }

            var wireType = (int)(tag & 7);
            var field = tag >> 3;
            switch (wireType)
            {
                case 0 when TryReadVarint(ref message, out var value):
                    if (field == 1)
                    {
                        status = (int)value; // an enum: negative or huge values are simply not one we know
                    }

                    break;
                case 1 when message.Length >= 8:
                    message = message[8..];
                    break;
                case 2 when TryReadVarint(ref message, out var size) && size <= (ulong)message.Length:
                    message = message[(int)size..];
                    break;
                case 5 when message.Length >= 4:
                    message = message[4..];
                    break;
                default:
                    return Malformed(out error);
            }
        }

        return status;
    }

    /// <summary>
    /// Judges one answer: <c>grpc-status</c> (from the trailers, or the headers of a trailers-only answer) other than 0
    /// is a failure named by its code and <c>grpc-message</c>; else the message's status, SERVING alone being healthy.
    /// </summary>
    public static (bool Healthy, string Detail) Judge(int httpStatus, string? grpcStatus, string? grpcMessage, ReadOnlySpan<byte> body, string service)
    {
        if (grpcStatus is null)
        {
            return (false, httpStatus == 200 ? "no grpc-status in the answer (not a gRPC server?)" : $"HTTP {httpStatus}, not a gRPC answer");
        }

        if (!int.TryParse(grpcStatus, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code))
        {
            return (false, $"grpc-status '{Shorten(grpcStatus)}' is not a number");
        }

        if (code != 0)
        {
            var what = code switch
            {
                12 => "UNIMPLEMENTED: the server has no grpc.health.v1.Health service",
                5 when service.Length > 0 => $"NOT_FOUND: the health service knows no service '{Shorten(service)}'",
                _ => Sidecar.Platform.GrpcCodes.Name(code),
            };
            var message = Message(grpcMessage);
            return (false, message.Length == 0 ? what : $"{what} ({message})");
        }

        var status = DecodeStatus(body, out var error);
        return status switch
        {
            null => (false, error!),
            1 => (true, "SERVING"),
            _ => (false, ServingStatusName(status.Value)),
        };
    }

    // grpc-message is percent-encoded UTF-8 (grpc/doc/PROTOCOL-HTTP2.md); shown on the status page, so kept short and printable.
    private static string Message(string? raw) => raw is null ? "" : Shorten(Uri.UnescapeDataString(raw).Trim());

    private static string Shorten(string text)
    {
        var printable = string.Create(Math.Min(text.Length, 200), text, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? ' ' : source[i];
            }
        });
        return text.Length > 200 ? printable + "..." : printable;
    }

    /// <summary>The name of a <c>ServingStatus</c> value, as the .proto spells it.</summary>
    public static string ServingStatusName(int status) => status switch
    {
        0 => "UNKNOWN",
        1 => "SERVING",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => $"status {status}",
    };

    private static int? Malformed(out string? error)
    {
        error = "a malformed HealthCheckResponse";
        return null;
    }

    private static int VarintLength(uint value)
    {
        var length = 1;
        for (; value >= 0x80; value >>= 7)
        {
            length++;
        }

        return length;
    }

    private static bool TryReadVarint(ref ReadOnlySpan<byte> span, out ulong value)
    {
        value = 0;
        for (var i = 0; i < 10 && i < span.Length; i++)
        {
            value |= (ulong)(span[i] & 0x7F) << (7 * i);
            if (span[i] < 0x80)
            {
                span = span[(i + 1)..];
                return true;
            }
        }

        return false;
    }
}

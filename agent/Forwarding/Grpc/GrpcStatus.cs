using System.Text;

namespace Sidecar.Forwarding.Grpc;

/// <summary>
/// gRPC status codes (grpc/doc/statuscodes.md) and how the agent's own answers become one
/// (docs/grpc.md#the-agents-own-errors), with no I/O: a gRPC client reads <c>grpc-status</c> and
/// <c>grpc-message</c>, never a problem+json body.
/// </summary>
internal static class GrpcStatus
{
    public const int Ok = 0;
    public const int Cancelled = 1;
    public const int Unknown = 2;
    public const int InvalidArgument = 3;
    public const int DeadlineExceeded = 4;
    public const int NotFound = 5;
    public const int AlreadyExists = 6;
    public const int PermissionDenied = 7;
    public const int ResourceExhausted = 8;
    public const int FailedPrecondition = 9;
    public const int Aborted = 10;
    public const int OutOfRange = 11;
    public const int Unimplemented = 12;
    public const int Internal = 13;
    public const int Unavailable = 14;
    public const int DataLoss = 15;
    public const int Unauthenticated = 16;

    /// <summary>The names of the codes, by number, as gRPC spells them (and as <c>GrpcRetryOn</c> takes them).</summary>
    public static string[] Names => Platform.GrpcCodes.Names;

    /// <summary>
    /// The status for an agent problem code (<see cref="ForwardingProblems"/>). Based on gRPC's own
    /// HTTP-to-gRPC mapping (404 UNIMPLEMENTED, 400 INTERNAL, 502-504 UNAVAILABLE), with the agent's
    /// finer knowledge where it has it: a deadline is DEADLINE_EXCEEDED, a limit RESOURCE_EXHAUSTED.
    /// </summary>
    public static int ForProblem(string code) => code switch
    {
        ForwardingProblems.NoInstance => Unavailable,
        ForwardingProblems.UpstreamUnreachable => Unavailable,
        ForwardingProblems.CircuitOpen => Unavailable,
        ForwardingProblems.Draining => Unavailable,
        ForwardingProblems.BadUpstreamResponse => Unavailable,
        ForwardingProblems.DeadlineExceeded => DeadlineExceeded,
        ForwardingProblems.UpstreamTimeout => DeadlineExceeded,
        ForwardingProblems.UnknownService => Unimplemented,
        ForwardingProblems.UnknownHost => Unimplemented,
        ForwardingProblems.RateLimited => ResourceExhausted,
        ForwardingProblems.ConcurrencyLimit => ResourceExhausted,
        ForwardingProblems.BodyTooLarge => ResourceExhausted,
        ForwardingProblems.CrossSiteRequest => PermissionDenied,
        ForwardingProblems.LoopDetected => FailedPrecondition,
        _ => Internal, // bad-request, bad-path, method-not-allowed...: gRPC's mapping of 400
    };

    /// <summary>A code by its name (<c>UNAVAILABLE</c>, any case) or number (<c>14</c>); null when it is neither.</summary>
    public static int? Parse(string text)
    {
        var value = text.Trim();
        if (int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number))
        {
            return number is >= 0 and <= Unauthenticated ? number : null;
        }

        var index = Array.FindIndex(Names, n => n.Equals(value, StringComparison.OrdinalIgnoreCase));
        return index >= 0 ? index : null;
    }

    /// <summary>The number in a <c>grpc-status</c> value; null when absent or not a number.</summary>
    public static int? Read(string? value) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code) ? code : null;

    /// <summary>
    /// <c>grpc-message</c>'s encoding (gRPC over HTTP/2, "Responses"): the UTF-8 bytes, each outside
    /// 0x20-0x7E and <c>%</c> itself written as <c>%XX</c>.
    /// </summary>
    public static string EncodeMessage(string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        var text = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                text.Append((char)b);
            }
            else
            {
                text.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return text.ToString();
    }

    /// <summary>True for <c>application/grpc</c> and its variants (<c>application/grpc+proto</c>, <c>application/grpc-web</c> is not gRPC over HTTP/2 and is left out).</summary>
    public static bool IsGrpc(string? contentType) =>
        contentType is not null &&
        contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) &&
        (contentType.Length == 16 || contentType[16] is '+' or ';');
}

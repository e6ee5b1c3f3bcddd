namespace Sidecar.Platform;

/// <summary>gRPC's status codes by number, as gRPC spells them (grpc/doc/statuscodes.md): shared by the gRPC health check and the gRPC forwarder.</summary>
internal static class GrpcCodes
{
    /// <summary>The names, indexed by code.</summary>
    public static readonly string[] Names =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    /// <summary>The name of <paramref name="code"/>, or "code N" for one gRPC does not define.</summary>
    public static string Name(int code) => code >= 0 && code < Names.Length ? Names[code] : "code " + code;
}

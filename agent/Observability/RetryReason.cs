namespace Sidecar.Observability;

/// <summary>Why the forwarder sent a request again (docs/forwarding.md#deadlines-retries-ejection: the retry rules).</summary>
internal enum RetryReason
{
    /// <summary>The request never left: connection refused, connect time-out (any method).</summary>
    ConnectError,

    /// <summary>The per-try time-out fired (idempotent requests only).</summary>
    TryTimeout,

    /// <summary>The connection broke after the request was sent (idempotent requests only).</summary>
    TransportError,

    /// <summary>The instance answered 502.</summary>
    Status502,

    /// <summary>The instance answered 503.</summary>
    Status503,

    /// <summary>The instance answered 504.</summary>
    Status504,

    /// <summary>A gRPC call ended, before anything was passed on, with a status <c>GrpcRetryOn</c> names (docs/grpc.md#retries).</summary>
    GrpcStatus,
}

internal static class RetryReasons
{
    public static readonly string[] Labels = ["connect_error", "try_timeout", "transport_error", "status_502", "status_503", "status_504", "grpc_status"];

    public static string Label(this RetryReason reason) => Labels[(int)reason];
}

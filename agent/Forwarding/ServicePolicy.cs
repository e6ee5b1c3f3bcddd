using Sidecar.Configuration;

namespace Sidecar.Forwarding;

/// <summary>
/// How calls to one service behave: deadlines, retries, body limits, outlier ejection. The global
/// values are read from <c>Forwarding:*</c>; each may be overridden for one service under
/// <c>Forwarding:Services:{name}:*</c> (docs/forwarding.md#deadlines-retries-ejection).
/// </summary>
internal sealed record ServicePolicy
{
    /// <summary>Every key a policy is read from, for the unknown-key check.</summary>
    public static readonly IReadOnlyList<string> Keys =
    [
        nameof(Timeout), nameof(TryTimeout), nameof(Retries), nameof(RetryBackoff), nameof(RetryBudgetPercent),
        nameof(RetryBudgetMinPerSecond), nameof(MaxBodySize), nameof(RetryBufferSize), nameof(EjectionFailures),
        nameof(EjectionTime), nameof(MaxEjectionTime), nameof(MaxEjectionPercent), nameof(UpgradeIdleTimeout),
        nameof(UpgradeMaxConnectionTime), nameof(GrpcRetryOn),
        .. ResiliencePolicy.Keys,
    ];

    /// <summary>Total deadline of a call, retries and the response body included. Default 30 s. An <c>X-Request-Timeout</c> request header can only lower it.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Time one attempt may take until the response headers arrive. Default 10 s. Not applied to streamed (unreplayable) uploads, which only the deadline bounds.</summary>
    public TimeSpan TryTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries after the first attempt (0 = none). Default 2.</summary>
    public int Retries { get; init; } = 2;

    /// <summary>Base of the exponential, jittered backoff between attempts. Default 50 ms.</summary>
    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Retries allowed as a share of requests (the retry budget). Default 20.</summary>
    public int RetryBudgetPercent { get; init; } = 20;

    /// <summary>Retries always allowed per second whatever the traffic, so a quiet service can still retry. Default 10.</summary>
    public int RetryBudgetMinPerSecond { get; init; } = 10;

    /// <summary>Largest request body accepted, in bytes; larger ones get 413. Default 100 MiB; 0 = no limit.</summary>
    public long MaxBodySize { get; init; } = 100L * 1024 * 1024;

    /// <summary>Bodies up to this size are buffered so they can be sent again on a retry; larger ones stream. Default 1 MiB.</summary>
    public int RetryBufferSize { get; init; } = 1024 * 1024;

    /// <summary>Consecutive failures (connect errors, 5xx, per-try time-outs) that eject an instance. Default 5; 0 = never eject.</summary>
    public int EjectionFailures { get; init; } = 5;

    /// <summary>Ejection time; the n-th ejection of an instance lasts n times this. Default 30 s.</summary>
    public TimeSpan EjectionTime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest ejection. Default 300 s.</summary>
    public TimeSpan MaxEjectionTime { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Most of a service's instances that may be ejected at once, in percent. Default 50.</summary>
    public int MaxEjectionPercent { get; init; } = 50;

    /// <summary>An upgraded connection (WebSocket) with no byte either way for this long is closed (docs/forwarding.md#websocket-and-other-upgrades). Default 5 min.</summary>
    public TimeSpan UpgradeIdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The longest an upgraded connection stays open, busy or not; zero = no limit (the default).</summary>
    public TimeSpan UpgradeMaxConnectionTime { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// The gRPC statuses a call on the gRPC listener is sent again on (<c>GrpcRetryOn</c>: names such as
    /// <c>UNAVAILABLE</c>, or numbers), only when the answer carried no message and the request body was kept
    /// (docs/grpc.md#retries). Default none: a status is the instance's answer, and only the service knows
    /// which of its methods are safe to repeat.
    /// </summary>
    public IReadOnlySet<int> GrpcRetryOn { get; init; } = new HashSet<int>();

    /// <summary>Bulkhead, rate limit and circuit breaker (docs/resilience.md); all off by default.</summary>
    public ResiliencePolicy Resilience { get; init; } = ResiliencePolicy.Off;

    /// <summary>The key <see cref="MaxBodySize"/> came from, for the 413 detail: <c>Forwarding:MaxBodySize</c> or <c>Forwarding:Services:{name}:MaxBodySize</c>.</summary>
    public string MaxBodySizeKey { get; init; } = "Forwarding:" + nameof(MaxBodySize);

    /// <summary>Reads the keys under <paramref name="prefix"/>, each defaulting to the value in <paramref name="defaults"/>.</summary>
    internal static ServicePolicy Read(SettingsReader r, string prefix, ServicePolicy defaults)
    {
        var policy = new ServicePolicy
        {
            Timeout = r.Duration(prefix + nameof(Timeout), defaults.Timeout, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(24)),
            TryTimeout = r.Duration(prefix + nameof(TryTimeout), defaults.TryTimeout, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(24)),
            Retries = r.Int(prefix + nameof(Retries), defaults.Retries, 0, 10),
            RetryBackoff = r.Duration(prefix + nameof(RetryBackoff), defaults.RetryBackoff, TimeSpan.Zero, TimeSpan.FromMinutes(1)),
            RetryBudgetPercent = r.Int(prefix + nameof(RetryBudgetPercent), defaults.RetryBudgetPercent, 0, 100),
            RetryBudgetMinPerSecond = r.Int(prefix + nameof(RetryBudgetMinPerSecond), defaults.RetryBudgetMinPerSecond, 0, 100_000),
            MaxBodySize = ByteSize.Read(r, prefix + nameof(MaxBodySize), defaults.MaxBodySize, long.MaxValue),
            RetryBufferSize = (int)ByteSize.Read(r, prefix + nameof(RetryBufferSize), defaults.RetryBufferSize, 64L * 1024 * 1024),
            EjectionFailures = r.Int(prefix + nameof(EjectionFailures), defaults.EjectionFailures, 0, 1_000_000),
            EjectionTime = r.Duration(prefix + nameof(EjectionTime), defaults.EjectionTime, TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(24)),
            MaxEjectionTime = r.Duration(prefix + nameof(MaxEjectionTime), defaults.MaxEjectionTime, TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(24)),
            MaxEjectionPercent = r.Int(prefix + nameof(MaxEjectionPercent), defaults.MaxEjectionPercent, 0, 100),
            UpgradeIdleTimeout = r.Duration(prefix + nameof(UpgradeIdleTimeout), defaults.UpgradeIdleTimeout, TimeSpan.FromMilliseconds(10), TimeSpan.FromDays(1)),
            UpgradeMaxConnectionTime = r.Duration(prefix + nameof(UpgradeMaxConnectionTime), defaults.UpgradeMaxConnectionTime, TimeSpan.Zero, TimeSpan.FromDays(7)),
            MaxBodySizeKey = r.String(prefix + nameof(MaxBodySize)) is null ? defaults.MaxBodySizeKey : prefix + nameof(MaxBodySize),
            Resilience = ResiliencePolicy.Read(r, prefix, defaults.Resilience),
            GrpcRetryOn = ReadGrpcStatuses(r, prefix + nameof(GrpcRetryOn), defaults.GrpcRetryOn),
        };

        if (policy.MaxEjectionTime < policy.EjectionTime)
        {
            r.AddError(prefix + nameof(MaxEjectionTime),
                $"'{DurationParser.Format(policy.MaxEjectionTime)}' is shorter than {prefix}{nameof(EjectionTime)} ({DurationParser.Format(policy.EjectionTime)})");
        }

        return policy;
    }

    private static IReadOnlySet<int> ReadGrpcStatuses(SettingsReader r, string key, IReadOnlySet<int> defaults)
    {
        if (r.String(key) is null)
        {
            return defaults;
        }

        var result = new HashSet<int>();
        foreach (var item in r.List(key))
        {
            if (Grpc.GrpcStatus.Parse(item) is { } code and not Grpc.GrpcStatus.Ok)
            {
                result.Add(code);
            }
            else
            {
                r.AddError(key, $"'{item}' is not a gRPC status other than OK (a name such as UNAVAILABLE, or 1-16)");
            }
        }

        return result;
    }
}

using Sidecar.Configuration;

namespace Sidecar.Health;

/// <summary>How the agent probes the app's health (<c>App:Health:*</c>, the <c>APP_HEALTH_*</c> variables).</summary>
internal sealed record AppHealthOptions
{
    /// <summary>
    /// The endpoint probed: http(s), <c>tcp://host:port</c> (a connection is UP), or <c>grpc[s]://host:port[/service]</c>
    /// (the gRPC health service answers SERVING). Default <c>http://127.0.0.1:{APP_PORT}/health</c>;
    /// null (set to empty, or no APP_PORT) means always UP.
    /// </summary>
    public Uri? Url { get; init; }

    /// <summary>Probe period. Default 5 s.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Probe time-out. Default 2 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Consecutive failures before DOWN. Default 3.</summary>
    public int FailureThreshold { get; init; } = 3;

    /// <summary>Why there is no probe, when <see cref="Url"/> is null.</summary>
    public string? DisabledReason { get; init; }

    internal static AppHealthOptions Read(SettingsReader r, AppOptions app)
    {
        const string urlKey = "App:Health:Url";
        var raw = r.Raw(urlKey);
        Uri? url = null;
        string? disabledReason = null;
        if (raw is null)
        {
            if (app.Port is { } port)
            {
                url = new Uri($"http://127.0.0.1:{port}/health");
            }
            else
            {
                disabledReason = "no APP_PORT and no APP_HEALTH_URL";
            }
        }
        else if (string.IsNullOrWhiteSpace(raw))
        {
            disabledReason = "APP_HEALTH_URL is empty";
        }
        else if (raw.TrimStart().StartsWith("tcp:", StringComparison.OrdinalIgnoreCase))
        {
            url = TcpAppHealthProbe.ReadUrl(r, urlKey);
        }
        else if (raw.TrimStart().StartsWith("grpc:", StringComparison.OrdinalIgnoreCase) || raw.TrimStart().StartsWith("grpcs:", StringComparison.OrdinalIgnoreCase))
        {
            url = GrpcAppHealthProbe.ReadUrl(r, urlKey);
        }
        else
        {
            url = r.HttpUrl(urlKey);
        }

        return new AppHealthOptions
        {
            Url = url,
            DisabledReason = disabledReason,
            Interval = r.Duration("App:Health:Interval", TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)),
            Timeout = r.Duration("App:Health:Timeout", TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(5)),
            FailureThreshold = r.Int("App:Health:FailureThreshold", 3, 1, 1000),
        };
    }
}

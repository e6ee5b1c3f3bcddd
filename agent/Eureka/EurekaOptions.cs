using Sidecar.Configuration;

namespace Sidecar.Eureka;

/// <summary>
/// Registration with and discovery from Eureka (<c>Eureka:*</c>, the <c>EUREKA_*</c> variables).
/// Setting <see cref="Urls"/> turns on registered mode, which needs <c>APP_NAME</c> and <c>APP_PORT</c>.
/// Defaults are the Netflix client's and Steeltoe's (docs/eureka.md#timing-and-failover).
/// </summary>
internal sealed record EurekaOptions
{
    /// <summary>
    /// Eureka service URLs (Spring's <c>eureka.client.serviceUrl.defaultZone</c>); each ends with <c>/</c>
    /// (added when missing); userinfo = HTTP Basic. The agent tries them in an order of its own
    /// (<see cref="EurekaServerOrder"/>). Default none (standalone).
    /// </summary>
    public IReadOnlyList<Uri> Urls { get; init; } = [];

    /// <summary>Service URLs per zone (<c>Eureka:ServiceUrl:{zone}</c>, Spring's <c>eureka.client.serviceUrl.{zone}</c>); a zone without a list uses <see cref="Urls"/>. Default none.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Uri>> ZoneUrls { get; init; } = new Dictionary<string, IReadOnlyList<Uri>>();

    /// <summary>The zones of the region (<c>Eureka:AvailabilityZones</c>, Spring's <c>eureka.client.availabilityZones.{region}</c>), this instance's zone first. Default none (one zone).</summary>
    public IReadOnlyList<string> AvailabilityZones { get; init; } = [];

    /// <summary>
    /// How long the agent keeps talking to the server it settled on before it starts over from its own first
    /// server (<c>Eureka:SessionReconnectInterval</c>), randomised by ±50% per session as Netflix's
    /// <c>SessionedEurekaHttpClient</c>. Default 20 minutes (Netflix's <c>sessionedClientReconnectIntervalSeconds</c>).
    /// </summary>
    public TimeSpan SessionReconnectInterval { get; init; } = TimeSpan.FromMinutes(20);

    /// <summary>This instance's zone, registered as metadata <c>zone</c>. Default none.</summary>
    public string? Zone { get; init; }

    /// <summary>Register and return IP addresses rather than host names. Default false.</summary>
    public bool PreferIp { get; init; }

    /// <summary>The instance id. Default <c>{host}:{app}:{port}</c>.</summary>
    public string? InstanceId { get; init; }

    /// <summary>Heartbeat period; the lease duration asked for is three times it. Default 30 s.</summary>
    public TimeSpan RenewInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Registry refresh period. Default 30 s.</summary>
    public TimeSpan FetchInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Connect time-out per attempt (<c>Eureka:ConnectTimeout</c>). Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Read time-out per attempt (<c>Eureka:ReadTimeout</c>): the longest wait for the answer to start and,
    /// while it flows, for its next bytes (Netflix's socket read time-out), not a limit on the whole answer. Default 8 s.
    /// </summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>Health-driven status updates sent at once before the rate limit applies (<c>Eureka:StatusUpdateBurst</c>). Default 2, as Netflix's InstanceInfoReplicator.</summary>
    public int StatusUpdateBurst { get; init; } = 2;

    /// <summary>Health-driven status updates allowed per minute after the burst (<c>Eureka:StatusUpdatesPerMinute</c>). Default 4, as Netflix's InstanceInfoReplicator.</summary>
    public int StatusUpdatesPerMinute { get; init; } = 4;

    /// <summary>Registered mode: <see cref="Urls"/> (or a zone's list) is set.</summary>
    public bool Enabled => Urls.Count > 0 || ZoneUrls.Count > 0;

    /// <summary>The lease duration asked for: three renew intervals, in whole seconds.</summary>
    public int LeaseDurationSeconds => 3 * RenewIntervalSeconds;

    /// <summary>The renew interval in whole seconds as the wire wants it (at least 1).</summary>
    public int RenewIntervalSeconds => Math.Max(1, (int)Math.Ceiling(RenewInterval.TotalSeconds));

    internal static EurekaOptions Read(SettingsReader r, AppOptions app)
    {
        var urls = ServiceUrls(r, "Eureka:Urls");

        var zoneUrls = new Dictionary<string, IReadOnlyList<Uri>>(StringComparer.OrdinalIgnoreCase);
        foreach (var zone in r.Configuration.GetSection("Eureka:ServiceUrl").GetChildren())
        {
            var key = "Eureka:ServiceUrl:" + zone.Key;
            var list = ServiceUrls(r, key);
            if (list.Count > 0)
            {
                zoneUrls[zone.Key] = list;
            }
        }

        var zones = r.List("Eureka:AvailabilityZones");
        if (zoneUrls.Count > 0 && zones.Count == 0)
        {
            r.AddError("Eureka:AvailabilityZones", $"required with Eureka:ServiceUrl:{zoneUrls.Keys.First()} (the zones in order, this instance's first)");
        }

        var options = new EurekaOptions
        {
            Urls = urls,
            ZoneUrls = zoneUrls,
            AvailabilityZones = zones,
            SessionReconnectInterval = r.Duration("Eureka:SessionReconnectInterval", TimeSpan.FromMinutes(20), TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)),
            Zone = r.String("Eureka:Zone"),
            PreferIp = r.Bool("Eureka:PreferIp", false),
            InstanceId = r.String("Eureka:InstanceId"),
            RenewInterval = r.Duration("Eureka:RenewInterval", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10)),
            FetchInterval = r.Duration("Eureka:FetchInterval", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            ConnectTimeout = r.Duration("Eureka:ConnectTimeout", TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(2)),
            ReadTimeout = r.Duration("Eureka:ReadTimeout", TimeSpan.FromSeconds(8), TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(2)),
            StatusUpdateBurst = r.Int("Eureka:StatusUpdateBurst", 2, 1, 100),
            StatusUpdatesPerMinute = r.Int("Eureka:StatusUpdatesPerMinute", 4, 1, 6000),
        };

        // Registered mode names the app in Eureka and says where it listens: both are required (docs/configuration.md).
        if (options.Enabled && app.Name is null)
        {
            r.AddError("App:Name", "required when EUREKA_URLS is set (registered mode)");
        }

        if (options.Enabled && app.Port is null)
        {
            r.AddError("App:Port", "required when EUREKA_URLS is set (registered mode)");
        }

        return options;
    }

    private static List<Uri> ServiceUrls(SettingsReader r, string key)
    {
        var urls = new List<Uri>();
        foreach (var url in r.HttpUrlList(key))
        {
            if (!string.IsNullOrEmpty(url.Query) || !string.IsNullOrEmpty(url.Fragment))
            {
                r.AddError(key, $"'{url.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped)}' must not carry a query or fragment");
                continue;
            }

            urls.Add(WithTrailingSlash(url));
        }

        return urls;
    }

    // Operations append "apps/..." to the service URL, so it must end with '/' (docs/eureka.md#base-url-and-requests).
    private static Uri WithTrailingSlash(Uri url) =>
        url.AbsolutePath.EndsWith('/') ? url : new UriBuilder(url) { Path = url.AbsolutePath + "/" }.Uri;
}

using System.Net;
using Sidecar.Configuration;

namespace Sidecar.Forwarding;

/// <summary>Outbound calls to other services (<c>Forwarding:*</c>; <c>ROUTES</c>; the zone from <c>EUREKA_ZONE</c>).</summary>
internal sealed record ForwardingOptions
{
    private const string Section = "Forwarding:";
    private const string RoutesKey = "Forwarding:Routes";
    private const string ServicesKey = "Forwarding:Services";

    /// <summary>Static routes from <c>ROUTES</c>: service name (lower case) to its instances' base URLs (http, https or tcp). Default none.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Uri>> Routes { get; init; } = new Dictionary<string, IReadOnlyList<Uri>>();

    /// <summary>This agent's zone (<c>EUREKA_ZONE</c>, key <c>Eureka:Zone</c>): calls prefer instances in it. Default none (no preference).</summary>
    public string? Zone { get; init; }

    /// <summary>Time to open a TCP (and TLS) connection to an instance; shared by every service. Default 2 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long an idle pooled connection to an instance is kept. Default 2 min.</summary>
    public TimeSpan IdleConnectionTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Plain <c>http</c> HTTP/1.1 calls go through the agent's lean client rather than SocketsHttpHandler
    /// (<c>Forwarding:LeanHttp1</c>, docs/performance.md#the-lean-http11-upstream-client). Default true; false to compare or fall back.
    /// </summary>
    public bool LeanHttp1 { get; init; } = true;

    /// <summary>
    /// The forwarding core answers the plainest bodiless calls below Kestrel's HTTP layer (<c>Forwarding:Core</c>,
    /// docs/performance.md#the-forwarding-core). Default true; false leaves every request to Kestrel.
    /// </summary>
    public bool Core { get; init; } = true;

    /// <summary>
    /// How long what the agent keeps for a service (its pool, balancing and ejection state, counters and series)
    /// outlives the service leaving every source (<c>Forwarding:ServiceRetention</c>). Default 10 min: a redeploy
    /// that takes every instance out for a while finds it where it was; services coming and going do not pile up.
    /// </summary>
    public TimeSpan ServiceRetention { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// TCP listeners (<c>SIDECAR_TCP_LISTENERS=15432=postgres,16379=redis</c>, key <c>Forwarding:TcpListeners</c>): each port's
    /// connections go to one instance of its service (docs/forwarding.md#tcp-listeners). Default none.
    /// </summary>
    public IReadOnlyList<Tcp.TcpListenerSpec> TcpListeners { get; init; } = [];

    /// <summary>A TCP listener's connection with no byte either way for this long is closed (<c>Forwarding:TcpIdleTimeout</c>); zero = never. Default 1 h.</summary>
    public TimeSpan TcpIdleTimeout { get; init; } = Tcp.TcpListenerSpec.DefaultIdleTimeout;

    /// <summary>The response cache's bound, bodies and headers of every service with <c>Cache=true</c> together (<c>Forwarding:CacheMaxBytes</c>). Default 64 MiB.</summary>
    public long CacheMaxBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>The policy of every service without its own (<c>Forwarding:Timeout</c>, <c>Forwarding:Retries</c>...).</summary>
    public ServicePolicy Defaults { get; init; } = new();

    /// <summary>Per-service policies (<c>Forwarding:Services:{name}:*</c>), case-insensitive names. Default none.</summary>
    public IReadOnlyDictionary<string, ServicePolicy> Services { get; init; } = new Dictionary<string, ServicePolicy>(StringComparer.OrdinalIgnoreCase);

    public ServicePolicy PolicyFor(string service) => Services.TryGetValue(service, out var policy) ? policy : Defaults;

    internal static ForwardingOptions Read(SettingsReader r, SidecarOptions sidecar)
    {
        CheckKeys(r);
        var defaults = ServicePolicy.Read(r, Section, new ServicePolicy());
        var services = new Dictionary<string, ServicePolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (var service in r.Configuration.GetSection(ServicesKey).GetChildren())
        {
            services[service.Key] = ServicePolicy.Read(r, $"{ServicesKey}:{service.Key}:", defaults);
        }

        var routes = ReadRoutes(r, sidecar);
        return new ForwardingOptions
        {
            Routes = routes,
            Zone = r.String("Eureka:Zone"),
            ConnectTimeout = r.Duration(Section + nameof(ConnectTimeout), TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(5)),
            IdleConnectionTimeout = r.Duration(Section + nameof(IdleConnectionTimeout), TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            LeanHttp1 = r.Bool(Section + nameof(LeanHttp1), true),
            Core = r.Bool(Section + nameof(Core), true),
            ServiceRetention = r.Duration(Section + nameof(ServiceRetention), TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)),
            CacheMaxBytes = ReadCacheMaxBytes(r),
            Defaults = defaults,
            Services = services,
            TcpListeners = Tcp.TcpListenerSpec.ReadAll(r, Section + nameof(TcpListeners), sidecar, routes),
            TcpIdleTimeout = r.Duration(Section + nameof(TcpIdleTimeout), Tcp.TcpListenerSpec.DefaultIdleTimeout, TimeSpan.Zero, TimeSpan.FromDays(1)),
        };
    }

    private static long ReadCacheMaxBytes(SettingsReader r)
    {
        var key = Section + nameof(CacheMaxBytes);
        var value = ByteSize.Read(r, key, 64L * 1024 * 1024, 16L * 1024 * 1024 * 1024);
        if (value < 64 * 1024)
        {
            r.AddError(key, $"'{r.String(key)}' is below the smallest cache, 64KiB");
        }

        return value;
    }

    // A misspelt key (Forwarding:Services:orders:Timout) would otherwise be silently ignored.
    private static void CheckKeys(SettingsReader r)
    {
        foreach (var child in r.Configuration.GetSection("Forwarding").GetChildren())
        {
            if (child.Key.Equals("Services", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var service in child.GetChildren())
                {
                    foreach (var setting in service.GetChildren())
                    {
                        if (!Contains(ServicePolicy.Keys, setting.Key))
                        {
                            r.AddError(setting.Path, $"unknown setting; a service may set {string.Join(", ", ServicePolicy.Keys)}");
                        }
                    }
                }
            }
            else if (!Contains(ServicePolicy.Keys, child.Key) &&
                     !child.Key.Equals("Routes", StringComparison.OrdinalIgnoreCase) &&
                     !child.Key.Equals(nameof(ConnectTimeout), StringComparison.OrdinalIgnoreCase) &&
                     !child.Key.Equals(nameof(IdleConnectionTimeout), StringComparison.OrdinalIgnoreCase) &&
                     !child.Key.Equals(nameof(ServiceRetention), StringComparison.OrdinalIgnoreCase) &&
                     !child.Key.Equals(nameof(LeanHttp1), StringComparison.OrdinalIgnoreCase) &&
                     !child.Key.Equals(nameof(Core), StringComparison.OrdinalIgnoreCase) &&
                     !child.Key.Equals(nameof(CacheMaxBytes), StringComparison.OrdinalIgnoreCase) &&
                     !child.Key.Equals(nameof(TcpListeners), StringComparison.OrdinalIgnoreCase) &&
                     !child.Key.Equals(nameof(TcpIdleTimeout), StringComparison.OrdinalIgnoreCase))
            {
                r.AddError(child.Path, $"unknown setting; known: Routes, Services, {nameof(ConnectTimeout)}, {nameof(IdleConnectionTimeout)}, {nameof(LeanHttp1)}, {nameof(Core)}, {nameof(ServiceRetention)}, {nameof(CacheMaxBytes)}, {nameof(TcpListeners)}, {nameof(TcpIdleTimeout)}, {string.Join(", ", ServicePolicy.Keys)}");
            }
        }
    }

    private static bool Contains(IReadOnlyList<string> keys, string key)
    {
        foreach (var k in keys)
        {
            if (k.Equals(key, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// <c>name=http://h:p;http://h2:p,other=http://...</c>, or <c>tcp://h:p</c> instances for TCP listeners
    /// (docs/forwarding.md#static-routes-standalone-mode); every bad entry is reported.
    /// </summary>
    private static Dictionary<string, IReadOnlyList<Uri>> ReadRoutes(SettingsReader r, SidecarOptions sidecar)
    {
        var routes = new Dictionary<string, IReadOnlyList<Uri>>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in r.List(RoutesKey))
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            var name = equals > 0 ? entry[..equals].Trim().ToLowerInvariant() : "";
            if (name.Length == 0)
            {
                r.AddError(RoutesKey, $"'{entry}' is not name=http://host:port[;http://host2:port]");
                continue;
            }

            if (!IsServiceName(name))
            {
                r.AddError(RoutesKey, $"'{name}' is not a service name (letters, digits, '-', '_' and '.')");
                continue;
            }

            if (routes.ContainsKey(name))
            {
                r.AddError(RoutesKey, $"'{name}' is listed twice");
                continue;
            }

            var urls = new List<Uri>();
            var texts = entry[(equals + 1)..].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var text in texts)
            {
                if (text.StartsWith("tcp:", StringComparison.OrdinalIgnoreCase))
                {
                    if (SettingsReader.TryParseTcpUrl(text, out var tcp))
                    {
                        urls.Add(tcp);
                    }
                    else
                    {
                        r.AddError(RoutesKey, $"'{text}' (service '{name}') is not tcp://host:port (a host and a port, nothing else)");
                    }
                }
                else if (!SettingsReader.TryParseHttpUrl(text, out var url))
                {
                    r.AddError(RoutesKey, $"'{text}' (service '{name}') is not an http://, https:// or tcp:// URL");
                }
                else if (url.AbsolutePath != "/" || url.Query.Length > 0 || url.Fragment.Length > 0 || url.UserInfo.Length > 0)
                {
                    r.AddError(RoutesKey, $"'{text}' (service '{name}') must be scheme://host:port only, without path, query or user info");
                }
                else if (IsAgentItself(url, sidecar))
                {
                    r.AddError(RoutesKey, $"'{text}' (service '{name}') is the agent's own API; a route to it would loop");
                }
                else
                {
                    urls.Add(url);
                }
            }

            if (texts.Length == 0)
            {
                r.AddError(RoutesKey, $"service '{name}' has no URL");
                continue;
            }

            if (urls.Count < texts.Length)
            {
                continue; // each bad URL was reported
            }

            routes[name] = urls;
        }

        return routes;
    }

    /// <summary>Service names become host names and path segments: a safe alphabet only.</summary>
    internal static bool IsServiceName(ReadOnlySpan<char> name)
    {
        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.'))
            {
                return false;
            }
        }

        return name.Length > 0;
    }

    private static bool IsAgentItself(Uri url, SidecarOptions sidecar)
    {
        if (url.Port != sidecar.Port)
        {
            return false;
        }

        if (url.IsLoopback)
        {
            return true;
        }

        return IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) && address.Equals(sidecar.BindAddress);
    }
}

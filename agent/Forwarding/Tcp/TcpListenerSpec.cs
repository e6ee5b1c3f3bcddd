using System.Globalization;
using System.Net;
using Sidecar.Configuration;

namespace Sidecar.Forwarding.Tcp;

/// <summary>One TCP listener: connections to <paramref name="Port"/> (on the API's address) go to one instance of <paramref name="Service"/>.</summary>
/// <param name="Port">The port the agent listens on.</param>
/// <param name="Service">The service (lower case) whose instances get the connections.</param>
internal sealed record TcpListenerSpec(int Port, string Service)
{
    /// <summary>Envoy's <c>tcp_proxy</c> default: an hour without a byte either way.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromHours(1);

    /// <summary>The label of the listener's metric series and log lines: its port.</summary>
    public string Label { get; } = Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>Parses one <c>port=service</c> entry (docs/forwarding.md#tcp-listeners); no I/O.</summary>
    /// <param name="entry">The entry, e.g. <c>15432=postgres</c>.</param>
    /// <param name="spec">The listener when the entry is well formed.</param>
    /// <param name="error">Why it is not, in the words of the error line.</param>
    public static bool TryParse(string entry, out TcpListenerSpec spec, out string error)
    {
        spec = null!;
        var equals = entry.IndexOf('=', StringComparison.Ordinal);
        var portText = equals > 0 ? entry[..equals].Trim() : "";
        var service = equals > 0 ? entry[(equals + 1)..].Trim().ToLowerInvariant() : "";
        if (portText.Length == 0 || service.Length == 0)
        {
            error = $"'{entry}' is not port=service (e.g. 15432=postgres)";
            return false;
        }

        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 0 or > 65535)
        {
            error = $"'{portText}' in '{entry}' is not a port (1-65535, or 0 for a free one)";
            return false;
        }

        if (!ForwardingOptions.IsServiceName(service))
        {
            error = $"'{service}' in '{entry}' is not a service name (letters, digits, '-', '_' and '.')";
            return false;
        }

        spec = new TcpListenerSpec(port, service);
        error = "";
        return true;
    }

    /// <summary>
    /// Every listener of <paramref name="key"/> (<c>15432=postgres,16379=redis</c>). Each bad entry is an error
    /// naming <c>SIDECAR_TCP_LISTENERS</c>: malformed, a port listed twice (0, a free port, may be listed more than once), a port the agent or the app already
    /// uses, or a static route back into the listener (a connection would loop through the agent for ever).
    /// </summary>
    internal static IReadOnlyList<TcpListenerSpec> ReadAll(SettingsReader r, string key, SidecarOptions sidecar, IReadOnlyDictionary<string, IReadOnlyList<Uri>> routes)
    {
        var result = new List<TcpListenerSpec>();
        var appPort = int.TryParse(r.String("App:Port"), NumberStyles.None, CultureInfo.InvariantCulture, out var app) ? app : 0;
        foreach (var entry in r.List(key))
        {
            if (!TryParse(entry, out var spec, out var error))
            {
                r.AddError(key, error);
                continue;
            }

            // Port 0 (a free port, picked at start: TcpListenerSockets) can be neither taken nor listed twice.
            var taken = spec.Port == 0 ? null
                : spec.Port == sidecar.Port ? "the API port (SIDECAR_PORT)"
                : spec.Port == sidecar.PublicHealthPort ? "the public health port (SIDECAR_PUBLIC_HEALTH_PORT)"
                : spec.Port == sidecar.MetricsPort ? "the metrics port (SIDECAR_METRICS_PORT)"
                : spec.Port == appPort ? "the app's port (APP_PORT)"
                : result.Exists(s => s.Port == spec.Port) ? "listed twice"
                : null;
            if (taken is not null)
            {
                r.AddError(key, $"port {spec.Port} ({spec.Service}) is {taken}");
                continue;
            }

            if (LoopsBack(spec, sidecar, routes) is { } route)
            {
                r.AddError(key, $"port {spec.Port} ({spec.Service}) is where ROUTES sends {route}: its connections would come back to it");
                continue;
            }

            result.Add(spec);
        }

        return result;
    }

    // A tcp:// route of any service to this listener's own address.
    private static string? LoopsBack(TcpListenerSpec spec, SidecarOptions sidecar, IReadOnlyDictionary<string, IReadOnlyList<Uri>> routes)
    {
        foreach (var (name, urls) in routes)
        {
            foreach (var url in urls)
            {
                if (url.Port == spec.Port && IsListenerAddress(url.IdnHost, sidecar.BindAddress))
                {
                    return $"'{name}' ({url.Host}:{url.Port})";
                }
            }
        }

        return null;
    }

    /// <summary>True when <paramref name="host"/> names the address the listeners are bound to (loopback names included for a loopback or any-address bind).</summary>
    internal static bool IsListenerAddress(string host, IPAddress bindAddress)
    {
        var trimmed = host.Trim('[', ']');
        var isLocalhost = trimmed.Equals("localhost", StringComparison.OrdinalIgnoreCase);
        IPAddress? address = null;
        if (!isLocalhost && !IPAddress.TryParse(trimmed, out address))
        {
            return false;
        }

        var anyBind = bindAddress.Equals(IPAddress.Any) || bindAddress.Equals(IPAddress.IPv6Any);
        if (isLocalhost || IPAddress.IsLoopback(address!))
        {
            return anyBind || IPAddress.IsLoopback(bindAddress);
        }

        return bindAddress.Equals(address);
    }
}

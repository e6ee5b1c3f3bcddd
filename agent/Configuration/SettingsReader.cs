using System.Globalization;
using System.Net;

namespace Sidecar.Configuration;

/// <summary>
/// Reads typed settings from configuration and collects every error, each naming the variable the
/// user set, so a bad start prints what to fix rather than a stack trace (docs/configuration.md#bad-values).
/// </summary>
internal sealed partial class SettingsReader(IConfiguration configuration)
{
    private readonly List<string> _errors = [];

    public IConfiguration Configuration { get; } = configuration;

    public IReadOnlyList<string> Errors => _errors;

    /// <summary>
    /// Records an error naming the variable the value came from (<c>SPRING_APPLICATION_NAME</c> when the
    /// user set the alias). User info in any URL it quotes (<c>http://user:password@host</c>) is masked and
    /// control characters are escaped: the line goes to the logs, and a newline in a value must not forge a second one.
    /// </summary>
    public void AddError(string key, string message) =>
        _errors.Add($"{AgentVariables.Describe(key, SetAs(key))}: {Platform.LogText.Printable(RedactUserInfo(message))}");

    // The short variable the winning value was read from, when it was one (the last provider holding the key wins).
    private string? SetAs(string key)
    {
        if (Configuration is not IConfigurationRoot root)
        {
            return null;
        }

        foreach (var provider in root.Providers.Reverse())
        {
            if (provider.TryGet(key, out _))
            {
                return (provider as AgentVariablesConfigurationProvider)?.NameFor(key);
            }
        }

        return null;
    }

    /// <summary><c>http://user:password@host</c> becomes <c>http://***@host</c>, however malformed the rest of the URL.</summary>
    internal static string RedactUserInfo(string text) =>
        text.Contains("://", StringComparison.Ordinal) && text.Contains('@', StringComparison.Ordinal) ? UserInfo().Replace(text, "://***@") : text;

    // Greedy up to the last '@' of the quoted value: a password may hold '/' or '@'; masking too much is the safe side.
    [System.Text.RegularExpressions.GeneratedRegex(@"://[^\s']*@")]
    private static partial System.Text.RegularExpressions.Regex UserInfo();

    /// <summary>An HTTP header name: RFC 9110 section 5.6.2, <c>token = 1*tchar</c>.</summary>
    internal static bool IsHeaderName(string name)
    {
        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && "!#$%&'*+-.^_`|~".IndexOf(c, StringComparison.Ordinal) < 0)
            {
                return false;
            }
        }

        return name.Length > 0;
    }

    /// <summary>The raw value: null when unset, empty when set to nothing.</summary>
    public string? Raw(string key) => Configuration[key];

    public string? String(string key, string? defaultValue = null)
    {
        var value = Configuration[key];
        return string.IsNullOrWhiteSpace(value) ? defaultValue : value.Trim();
    }

    public int Int(string key, int defaultValue, int min, int max)
    {
        var value = String(key);
        if (value is null)
        {
            return defaultValue;
        }

        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var result) || result < min || result > max)
        {
            AddError(key, $"'{value}' is not a whole number between {min} and {max}");
            return defaultValue;
        }

        return result;
    }

    /// <summary>A ratio above 0 and at most 1 (<c>0.5</c>), written with a dot.</summary>
    public double Ratio(string key, double defaultValue)
    {
        var value = String(key);
        if (value is null)
        {
            return defaultValue;
        }

        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var result) || !(result > 0 && result <= 1))
        {
            AddError(key, $"'{value}' is not a ratio above 0 and at most 1 (such as 0.5)");
            return defaultValue;
        }

        return result;
    }

    public int? Port(string key, int? defaultValue = null)
    {
        var value = String(key);
        if (value is null)
        {
            return defaultValue;
        }

        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            AddError(key, $"'{value}' is not a port (1-65535)");
            return defaultValue;
        }

        return port;
    }

    /// <summary>A port to listen on: as <see cref="Port"/>, and 0 for any free port (docs/operations.md#listeners-and-security-defaults).</summary>
    public int? ListenPort(string key, int? defaultValue = null) =>
        String(key) is "0" ? 0 : Port(key, defaultValue);

    public bool Bool(string key, bool defaultValue)
    {
        var value = String(key);
        if (value is null)
        {
            return defaultValue;
        }

        switch (value.ToLowerInvariant())
        {
            case "true" or "1" or "yes" or "on":
                return true;
            case "false" or "0" or "no" or "off":
                return false;
            default:
                AddError(key, $"'{value}' is not true or false");
                return defaultValue;
        }
    }

    /// <summary>A duration such as <c>500ms</c>, <c>5s</c>, <c>2m</c>, <c>1h</c> or .NET TimeSpan text (<c>00:00:05</c>).</summary>
    public TimeSpan Duration(string key, TimeSpan defaultValue, TimeSpan min, TimeSpan max)
    {
        var value = String(key);
        if (value is null)
        {
            return defaultValue;
        }

        if (!DurationParser.TryParse(value, out var duration))
        {
            AddError(key, $"'{value}' is not a duration (examples: 500ms, 5s, 2m, 00:00:05)");
            return defaultValue;
        }

        if (duration < min || duration > max)
        {
            AddError(key, $"'{value}' must be between {DurationParser.Format(min)} and {DurationParser.Format(max)}");
            return defaultValue;
        }

        return duration;
    }

    public IPAddress? IPAddress(string key, IPAddress? defaultValue)
    {
        var value = String(key);
        if (value is null)
        {
            return defaultValue;
        }

        if (string.Equals(value, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return System.Net.IPAddress.Loopback;
        }

        if (string.Equals(value, "*", StringComparison.Ordinal))
        {
            return System.Net.IPAddress.Any;
        }

        if (!TryParseIp(value, out var address))
        {
            AddError(key, $"'{value}' is not an IP address");
            return defaultValue;
        }

        return address;
    }

    /// <summary>An absolute http(s) URL.</summary>
    public Uri? HttpUrl(string key)
    {
        var value = String(key);
        if (value is null)
        {
            return null;
        }

        if (!TryParseHttpUrl(value, out var uri))
        {
            AddError(key, $"'{value}' is not an http:// or https:// URL");
            return null;
        }

        return uri;
    }

    /// <summary>A comma-separated list of absolute http(s) URLs; every bad entry is reported.</summary>
    public IReadOnlyList<Uri> HttpUrlList(string key)
    {
        var result = new List<Uri>();
        foreach (var item in List(key))
        {
            if (TryParseHttpUrl(item, out var uri))
            {
                result.Add(uri);
            }
            else
            {
                AddError(key, $"'{item}' is not an http:// or https:// URL");
            }
        }

        return result;
    }

    /// <summary>A comma-separated list, trimmed, without empty entries.</summary>
    public IReadOnlyList<string> List(string key) =>
        String(key)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

    /// <summary>A <c>k=v,k2=v2</c> map; entries without <c>=</c> or with an empty key are reported.</summary>
    public IReadOnlyDictionary<string, string> Map(string key)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in List(key))
        {
            var equals = item.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                AddError(key, $"'{item}' is not a key=value pair");
                continue;
            }

            result[item[..equals].Trim()] = item[(equals + 1)..].Trim();
        }

        return result;
    }

    public T Enum<T>(string key, T defaultValue)
        where T : struct, Enum
    {
        var value = String(key);
        if (value is null)
        {
            return defaultValue;
        }

        // Names only: Enum.TryParse would also take "1", "+1" and flag lists such as "text,json".
        foreach (var name in System.Enum.GetNames<T>())
        {
            if (string.Equals(name, value, StringComparison.OrdinalIgnoreCase))
            {
                return System.Enum.Parse<T>(name);
            }
        }

        AddError(key, $"'{value}' is not one of {string.Join(", ", System.Enum.GetNames<T>()).ToLowerInvariant()}");
        return defaultValue;
    }

    /// <summary>An IPv4 address in full dotted form (not the short <c>10.1</c> forms the OS accepts) or an IPv6 address.</summary>
    internal static bool TryParseIp(string value, out IPAddress address)
    {
        var full = value.Contains(':', StringComparison.Ordinal) || value.Split('.').Length == 4;
        if (full && System.Net.IPAddress.TryParse(value, out var parsed))
        {
            address = parsed;
            return true;
        }

        address = System.Net.IPAddress.None;
        return false;
    }

    /// <summary>
    /// <c>tcp://host:port</c> (a TCP health check, a <c>ROUTES</c> instance): a DNS name or IP literal and a
    /// port 1-65535, without path, query or user info (docs/forwarding.md#tcp-listeners).
    /// </summary>
    internal static bool TryParseTcpUrl(string value, out Uri uri)
    {
        uri = null!;
        if (!value.StartsWith("tcp://", StringComparison.OrdinalIgnoreCase) || !Uri.TryCreate(value, UriKind.Absolute, out var parsed) ||
            parsed.Port is < 1 or > 65535 || parsed.UserInfo.Length > 0 || parsed.Query.Length > 0 || parsed.Fragment.Length > 0 ||
            parsed.AbsolutePath is not ("" or "/") || value.TrimEnd('/').EndsWith(':') ||
            parsed.HostNameType is not (UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6) || parsed.Host.Contains('%', StringComparison.Ordinal))
        {
            return false;
        }

        // "tcp://host" alone parses with no port (-1): a TCP address needs one.
        var authority = value.AsSpan("tcp://".Length).TrimEnd('/');
        var colon = authority.LastIndexOf(':');
        if (colon < 0 || authority[(colon + 1)..].ContainsAnyExceptInRange('0', '9'))
        {
            return false;
        }

        uri = parsed;
        return true;
    }

    internal static bool TryParseHttpUrl(string value, out Uri uri)
    {
        if (Uri.TryCreate(value, UriKind.Absolute, out var parsed) &&
            (parsed.Scheme == Uri.UriSchemeHttp || parsed.Scheme == Uri.UriSchemeHttps) &&
            !string.IsNullOrEmpty(parsed.Host))
        {
            uri = parsed;
            return true;
        }

        uri = null!;
        return false;
    }
}

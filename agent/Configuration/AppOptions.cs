namespace Sidecar.Configuration;

/// <summary>The application beside the agent (<c>App:*</c>, the <c>APP_*</c> variables other than health).</summary>
internal sealed record AppOptions
{
    /// <summary>The application's name in Eureka and in the Config Server. Required when registered. Default none.</summary>
    public string? Name { get; init; }

    /// <summary>Port the application listens on. Required when registered. Default none.</summary>
    public int? Port { get; init; }

    /// <summary>Host name registered. Default: detected.</summary>
    public string? Host { get; init; }

    /// <summary>IP address registered. Default: detected (first non-loopback IPv4).</summary>
    public string? Ip { get; init; }

    /// <summary>Metadata registered with the instance, from <c>k=v,k2=v2</c>. Default none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    internal static AppOptions Read(SettingsReader r)
    {
        var name = r.String("App:Name");
        if (name is not null && !IsValidName(name))
        {
            r.AddError("App:Name", $"'{name}' may hold only letters, digits, '-', '_' and '.'");
        }

        var ip = r.String("App:Ip");
        if (ip is not null && !SettingsReader.TryParseIp(ip, out _))
        {
            r.AddError("App:Ip", $"'{ip}' is not an IP address");
        }

        var host = r.String("App:Host");
        if (host is not null && Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            r.AddError("App:Host", $"'{host}' is not a host name");
        }

        return new AppOptions
        {
            Name = name,
            Port = r.Port("App:Port"),
            Host = host,
            Ip = ip,
            Metadata = r.Map("App:Metadata"),
        };
    }

    // Names become URL path segments in Eureka and the Config Server: keep them to a safe alphabet.
    private static bool IsValidName(string name)
    {
        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.'))
            {
                return false;
            }
        }

        return true;
    }
}

using Sidecar.Forwarding;
using Sidecar.Health;

namespace Sidecar.Configuration;

/// <summary>
/// Every setting of the agent, read and validated once at start. Each capability reads its own
/// options class; all errors are collected so one run shows everything to fix.
/// </summary>
internal sealed record AgentOptions
{
    public required SidecarOptions Sidecar { get; init; }

    public required AppOptions App { get; init; }

    public required AppHealthOptions Health { get; init; }

    public required ForwardingOptions Forwarding { get; init; }

    /// <exception cref="InvalidConfigurationException">When any setting is invalid.</exception>
    public static AgentOptions Load(IConfiguration configuration)
    {
        var r = new SettingsReader(configuration);
        var app = AppOptions.Read(r);
        var sidecar = SidecarOptions.Read(r, app);
        var options = new AgentOptions
        {
            App = app,
            Sidecar = sidecar,
            Health = AppHealthOptions.Read(r, app),
            Forwarding = ForwardingOptions.Read(r, sidecar),
        };

        return r.Errors.Count == 0 ? options : throw new InvalidConfigurationException(r.Errors);
    }
}

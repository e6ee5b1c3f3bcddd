using Sidecar.Actuator;
using Sidecar.AppConfig;
using Sidecar.Configuration;
using Sidecar.Eureka;
using Sidecar.Forwarding;
using Sidecar.Health;
using Sidecar.Observability;
using Sidecar.Supervisor;

namespace Sidecar.Hosting;

/// <summary>
/// Every setting of the agent, read and validated once at start. Each capability reads its own
/// options class; all errors are collected so one run shows everything to fix.
/// </summary>
internal sealed record AgentOptions
{
    public required SidecarOptions Sidecar { get; init; }

    public required AppOptions App { get; init; }

    public required AppHealthOptions Health { get; init; }

    public required EurekaOptions Eureka { get; init; }

    public required SupervisorOptions Supervisor { get; init; }

    public required AppConfigOptions AppConfig { get; init; }

    public required ForwardingOptions Forwarding { get; init; }

    public required ObservabilityOptions Observability { get; init; }

    public required ActuatorOptions Actuator { get; init; }

    /// <param name="configuration">Every configuration source, the short variables included.</param>
    /// <param name="command">The app's command line in supervisor mode (<c>agent run -- CMD...</c>); empty otherwise.</param>
    /// <exception cref="InvalidConfigurationException">When any setting is invalid.</exception>
    public static AgentOptions Load(IConfiguration configuration, IReadOnlyList<string>? command = null)
    {
        var r = new SettingsReader(configuration);
        var app = AppOptions.Read(r);
        var sidecar = SidecarOptions.Read(r, app);
        var options = new AgentOptions
        {
            App = app,
            Sidecar = sidecar,
            Health = AppHealthOptions.Read(r, app),
            Eureka = EurekaOptions.Read(r, app),
            Supervisor = SupervisorOptions.Read(r, command ?? []),
            AppConfig = AppConfigOptions.Read(r, app),
            Forwarding = ForwardingOptions.Read(r, sidecar),
            Observability = ObservabilityOptions.Read(r, app),
            Actuator = ActuatorOptions.Read(r),
        };

        return r.Errors.Count == 0 ? options : throw new InvalidConfigurationException(r.Errors);
    }
}

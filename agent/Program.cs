using Sidecar.Actuator;
using Sidecar.Hosting;
using Sidecar.AppConfig;
using Sidecar.Discovery;
using Sidecar.Forwarding;
using Sidecar.Forwarding.Tcp;
using Sidecar.Health;
using Sidecar.Platform;
using Sidecar.Registration;
using Sidecar.Overview;
using Sidecar.Supervisor;

namespace Sidecar;

internal static class Program
{
    public static Task<int> Main(string[] args) => AgentCommandLine.RunAsync(args, CreateApp, DevRegistry.DevRegistryCommand.RunAsync);

    /// <summary>The agent's wiring: each capability adds its services and maps its routes here.</summary>
    /// <exception cref="InvalidConfigurationException">When a setting is invalid.</exception>
    /// <param name="args">Configuration switches (<c>--Section:Key=value</c>).</param>
    /// <param name="overrides">A test's environment and adjustments; null in production.</param>
    /// <param name="command">The app to supervise (<c>agent run -- CMD...</c>); empty otherwise.</param>
    internal static WebApplication CreateApp(string[] args, AgentHostOverrides? overrides = null, IReadOnlyList<string>? command = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        var options = builder.AddAgentConfiguration(overrides, command ?? []);
        builder.AddAgentLogging(options.Sidecar);
        builder.AddAgentListeners(options.Sidecar);
        builder.Services.AddAppHealth(options.Health);
        builder.Services.AddRegistration(options.Eureka, options.App, options.Sidecar, options.Supervisor.Command.Count > 0 ? options.Supervisor.GracePeriod : TimeSpan.Zero);
        builder.Services.AddForwarding(options.Forwarding); // before discovery: static ROUTES win over Eureka for a shared name
        builder.Services.AddDiscovery(options.Eureka, options.App, options.Sidecar);
        builder.Services.AddAppConfig(options.AppConfig, options.Sidecar);
        builder.Services.AddSupervisor(options.Supervisor);
        builder.Services.AddObservability(options.Observability);
        builder.Services.AddActuator(options.Actuator, options.Sidecar);
        builder.Services.AddTcpListeners(options.Forwarding, options.Sidecar); // after registration: it stops accepting before the drain
        if (overrides is null)
        {
            builder.Services.AddHostedService<StartupTrim>(); // the agent process only: a test host holds many agents in one heap
        }

        overrides?.Services?.Invoke(builder.Services);

        var app = builder.Build();
        app.UseAgentPipeline();
        app.UseMetricsListener();
        app.MapAgentIndex();
        app.MapHealthApi();
        app.MapRegistrationApi();
        app.MapDiscoveryApi();
        app.MapAppConfigApi();
        app.MapObservability();
        app.MapActuator();
        app.MapForwarding();
        return app;
    }
}

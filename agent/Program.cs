using Sidecar.Configuration;
using Sidecar.Discovery;
using Sidecar.Forwarding;
using Sidecar.Health;
using Sidecar.Hosting;
using Sidecar.Registration;

namespace Sidecar;

internal static class Program
{
    public static Task<int> Main(string[] args) => AgentCommandLine.RunAsync(args, CreateApp);

    /// <summary>The agent's wiring: each capability adds its services and maps its routes here.</summary>
    /// <exception cref="InvalidConfigurationException">When a setting is invalid.</exception>
    internal static WebApplication CreateApp(string[] args, AgentHostOverrides? overrides = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        var options = builder.AddAgentConfiguration(overrides);
        builder.AddAgentLogging(options.Sidecar);
        builder.AddAgentListeners(options.Sidecar);
        builder.Services.AddAppHealth(options.Health);
        builder.Services.AddRegistration();
        builder.Services.AddDiscovery();
        builder.Services.AddForwarding(options.Forwarding);
        overrides?.Services?.Invoke(builder.Services);

        var app = builder.Build();
        app.UseAgentPipeline();
        app.MapAgentIndex();
        app.MapHealthApi();
        app.MapRegistrationApi();
        app.MapForwarding();
        return app;
    }
}

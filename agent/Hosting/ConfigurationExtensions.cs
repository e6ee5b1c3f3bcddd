using Microsoft.Extensions.Configuration.CommandLine;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Hosting;

internal static class ConfigurationExtensions
{
    /// <summary>
    /// Adds the short variables (docs/configuration.md) above appsettings.json and <c>Section__Key</c>
    /// variables (below the command line), reads and validates every option, and registers them.
    /// </summary>
    /// <exception cref="InvalidConfigurationException">When a setting is invalid.</exception>
    /// <param name="builder">The agent's builder.</param>
    /// <param name="overrides">A test's environment and adjustments; null in production.</param>
    /// <param name="command">The app's command line in supervisor mode; empty otherwise.</param>
    public static AgentOptions AddAgentConfiguration(this WebApplicationBuilder builder, AgentHostOverrides? overrides, IReadOnlyList<string> command)
    {
        var sources = builder.Configuration.Sources;
        if (overrides?.Environment is { } environment)
        {
            // Tests: nothing from the machine (appsettings.json, the process environment) leaks in.
            for (var i = sources.Count - 1; i >= 0; i--)
            {
                if (sources[i] is not CommandLineConfigurationSource)
                {
                    sources.RemoveAt(i);
                }
            }

            builder.Configuration.AddInMemoryCollection(SectionKeys(environment));
        }

        var commandLine = IndexOf<CommandLineConfigurationSource>(sources);
        var mapped = new AgentVariablesConfigurationSource(overrides?.Environment);
        if (commandLine >= 0)
        {
            sources.Insert(commandLine, mapped);
        }
        else
        {
            sources.Add(mapped);
        }

        if (command.Count > 0 && string.IsNullOrWhiteSpace(builder.Configuration["App:Port"]))
        {
            // Supervisor mode without APP_PORT: pick a free port and hand it to the app (like dapr run's app port).
            builder.Configuration.AddInMemoryCollection([new("App:Port", FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        }

        var options = AgentOptions.Load(builder.Configuration, command);
        if (overrides?.Options is { } adjust)
        {
            options = adjust(options);
        }

        options = options with { Sidecar = ListenerSockets.Reserve(builder, options.Sidecar) };
        options = options with { Forwarding = Forwarding.Tcp.TcpListenerSockets.Reserve(builder.Services, options.Forwarding, options.Sidecar.BindAddress) };

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(options.Sidecar);
        builder.Services.AddSingleton(options.App);
        builder.Services.AddSingleton(options.Health);
        builder.Services.AddSingleton(options.Eureka);
        builder.Services.AddSingleton(options.Supervisor);
        builder.Services.AddSingleton(options.AppConfig);
        builder.Services.AddSingleton(options.Forwarding);
        builder.Services.AddSingleton(options.Observability);
        builder.Services.AddSingleton<AgentExit>();
        // Stopping may take the drain plus the app's grace period: never cut it short.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.Sidecar.Drain + options.Supervisor.GracePeriod + TimeSpan.FromSeconds(15));
        return options;
    }

    private static int FreeLoopbackPort()
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        return ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
    }

    // The same Section__Key convention the environment provider applies, for a test's environment.
    private static Dictionary<string, string?> SectionKeys(System.Collections.IDictionary environment)
    {
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (System.Collections.DictionaryEntry entry in environment)
        {
            if (entry.Key is string key && key.Contains("__", StringComparison.Ordinal))
            {
                result[key.Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal)] = entry.Value as string;
            }
        }

        return result;
    }

    private static int IndexOf<T>(IList<IConfigurationSource> sources)
    {
        for (var i = 0; i < sources.Count; i++)
        {
            if (sources[i] is T)
            {
                return i;
            }
        }

        return -1;
    }
}

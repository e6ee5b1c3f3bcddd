using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Sidecar.Configuration;
using Sidecar.Hosting;
using Sidecar.Platform;

namespace Sidecar.DevRegistry;

/// <summary>
/// <c>agent registry [--port 8761] [--bind 127.0.0.1]</c>: an in-memory, single-node,
/// Eureka-compatible registry for local development and demos only (docs/eureka.md#dev-registry). It is the
/// same server logic the tests' fake Eureka runs; production uses a real Eureka cluster.
/// </summary>
internal static partial class DevRegistryCommand
{
    public const int DefaultPort = 8761;

    private const string LoggerName = "Sidecar.DevRegistry";

    public const string Usage = """
        usage: agent registry [--port 8761] [--bind 127.0.0.1]
          An in-memory Eureka-compatible registry for local development and demos only:
          one node, no persistence, no replication, no self-preservation.
          Point agents at it with EUREKA_URLS=http://127.0.0.1:8761/eureka/
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (!TryParse(args, out var port, out var bind, out var error))
        {
            if (error is null)
            {
                await Console.Out.WriteLineAsync(Usage).ConfigureAwait(false);
                return 0;
            }

            await Console.Error.WriteLineAsync("agent: " + error + "; run 'agent registry --help'").ConfigureAwait(false);
            return AgentExit.ConfigurationError;
        }

        var builder = WebApplication.CreateSlimBuilder();

        // The agent's own log settings (SIDECAR_LOG_FORMAT, SIDECAR_LOG_LEVEL and their Sidecar__ forms),
        // so a registry run beside agents logs the same way they do; nothing else of the agent's applies.
        ((IConfigurationBuilder)builder.Configuration).Add(new AgentVariablesConfigurationSource());
        var settings = new SettingsReader(builder.Configuration);
        var logging = SidecarOptions.ReadLogging(settings);
        if (settings.Errors.Count > 0)
        {
            await Console.Error.WriteLineAsync("agent: " + new InvalidConfigurationException(settings.Errors).Message).ConfigureAwait(false);
            return AgentExit.ConfigurationError;
        }

        builder.AddAgentLogging(logging);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(bind, port);
        });
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new EurekaServerRegistry(sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(sp => new EurekaServerHandler(
            sp.GetRequiredService<EurekaServerRegistry>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger(LoggerName)));

        var app = builder.Build();
        await using (app.ConfigureAwait(false))
        {
            var handler = app.Services.GetRequiredService<EurekaServerHandler>();
            app.Run(context => context.Request.Path == "/" ? HomeAsync(context, handler) : handler.HandleAsync(context));
            try
            {
                await app.StartAsync().ConfigureAwait(false);
            }
            catch (IOException ex) when (ex.InnerException is AddressInUseException or SocketException)
            {
                await Console.Error.WriteLineAsync("agent: cannot listen: " + ex.Message).ConfigureAwait(false);
                return AgentExit.ConfigurationError;
            }

            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
                ?? $"http://{bind}:{port}";

            // Through the logger, so it is a JSON line too with SIDECAR_LOG_FORMAT=json; a warning, so
            // "development only" shows at every level but error.
            LogStarted(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(LoggerName), $"{address}{handler.BasePath}");
            await app.WaitForShutdownAsync().ConfigureAwait(false);
            return 0;
        }
    }

    internal static bool TryParse(string[] args, out int port, out IPAddress bind, out string? error)
    {
        port = DefaultPort;
        bind = IPAddress.Loopback;
        error = null;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help")
            {
                return false;
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? arg : arg[..equals];
            string? value = equals < 0 ? (i + 1 < args.Length ? args[++i] : null) : arg[(equals + 1)..];
            switch (name)
            {
                case "--port":
                    if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out port) || port is < 0 or > 65535)
                    {
                        error = $"--port '{value}' is not a port (0-65535)";
                        return false;
                    }

                    break;
                case "--bind":
                    if (value is null || !SettingsReader.TryParseIp(value, out bind))
                    {
                        error = $"--bind '{value}' is not an IP address";
                        return false;
                    }

                    break;
                default:
                    error = $"unknown option '{arg}'";
                    return false;
            }
        }

        return true;
    }

    private static Task HomeAsync(HttpContext context, EurekaServerHandler handler)
    {
        var instances = handler.Registry.Instances();
        var text = new StringBuilder()
            .AppendLine("sidecar-agent dev registry: DEVELOPMENT ONLY, in memory, one node.")
            .Append("Eureka API: ").AppendLine(handler.BasePath)
            .Append(CultureInfo.InvariantCulture, $"{instances.Count} instances:").AppendLine();
        foreach (var instance in instances.OrderBy(i => i.App, StringComparer.Ordinal).ThenBy(i => i.InstanceId, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"  {instance.App} {instance.InstanceId} {instance.HostName}:{instance.Port} {Eureka.InstanceStatusNames.ToWire(instance.Status)}").AppendLine();
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text.ToString());
    }

    [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "agent registry: in-memory Eureka-compatible registry for development only (one node, no persistence, no replication, no self-preservation); EUREKA_URLS={ServiceUrl}")]
    private static partial void LogStarted(ILogger logger, string serviceUrl);
}

using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Sidecar.Platform;
using Sidecar.Configuration;

namespace Sidecar.Hosting;

/// <summary>
/// The agent's commands (docs/operations.md#commands): none to serve. Bad configuration, an unknown command, a
/// port that cannot be bound or an app that cannot start end with one line on stderr and exit code 2,
/// never a stack trace; a stop asked for while starting (SIGTERM) is a clean exit, code 0.
/// </summary>
internal static partial class AgentCommandLine
{
    public const int ConfigurationError = AgentExit.ConfigurationError;

    private const string Usage = """
        usage: agent [--Section:Key=value ...]                     serve beside an app started separately (a sidecar)
               agent run [--Section:Key=value ...] -- CMD ARGS...  start the app as a child and serve beside it
                   --Supervisor:GracePeriod=10s                        after SIGTERM, how long the app may take before SIGKILL
               agent wait [--timeout 60s]                          exit 0 once the agent answers /v1/health/live
               agent health [--ready] [--timeout 3s]               exit 0 when the agent answers healthy (a HEALTHCHECK)
               agent registry [--port 8761]                        an in-memory Eureka registry, for development only
               agent --help | --version

        The most used variables (docs/configuration.md lists them all):
          APP_NAME, APP_PORT             the app's name in Eureka and the Config Server, and its port
          APP_HEALTH_URL                 the app's health route (default http://127.0.0.1:APP_PORT/health), tcp://host:port or grpc://host:port[/service]
          APP_IP                         the address registered (in Kubernetes: the pod IP)
          EUREKA_URLS                    Eureka servers; none: no registration, no discovery
          CONFIG_SERVER_URLS, CONFIG_FILE  the app's configuration
          ROUTES                         static services: name=http://host:port,... (tcp://host:port for TCP listeners)
          SIDECAR_TCP_LISTENERS          TCP ports to other services: 15432=postgres,16379=redis
          SIDECAR_PORT (8078), SIDECAR_BIND_ADDRESS (127.0.0.1)  the API
          SIDECAR_PUBLIC_HEALTH_PORT, SIDECAR_METRICS_PORT         health routes and /metrics on all interfaces
          SIDECAR_DRAIN (65s)            on SIGTERM, how long to stay OUT_OF_SERVICE while still serving
          SIDECAR_LOG_FORMAT (text|json), SIDECAR_LOG_LEVEL        logs (the level can change at run time: PUT /v1/logging)
          OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_PROPAGATORS            tracing
        Running, GET http://127.0.0.1:8078/v1/settings shows the effective settings (secrets masked).
        """;

    public static async Task<int> RunAsync(string[] args, Func<string[], AgentHostOverrides?, IReadOnlyList<string>?, WebApplication> createApp, Func<string[], Task<int>> runRegistry)
    {
        var command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : null;
        switch (command)
        {
            case "help":
            case null when args.Length > 0 && args[0] is "-h" or "--help":
                await Console.Out.WriteLineAsync(Usage).ConfigureAwait(false);
                return 0;
            case "version":
            case null when args.Length > 0 && args[0] is "--version":
                await Console.Out.WriteLineAsync($"agent {AgentIndexApi.Version} (commit {AgentIndexApi.Commit})").ConfigureAwait(false);
                return 0;
            case "run":
                var separator = Array.IndexOf(args, "--");
                if (separator < 0 || separator == args.Length - 1)
                {
                    return Fail("'agent run' needs the app's command after '--', e.g. agent run -- python3 app.py");
                }

                return await ServeAsync(() => createApp(args[1..separator], null, args[(separator + 1)..])).ConfigureAwait(false);
            case "wait":
                return await ProbeCommand.WaitAsync(args[1..]).ConfigureAwait(false);
            case "health":
                return await ProbeCommand.HealthAsync(args[1..]).ConfigureAwait(false);
            case "registry":
                return await runRegistry(args[1..]).ConfigureAwait(false);
            case null:
                return await ServeAsync(() => createApp(args, null, null)).ConfigureAwait(false);
            default:
                return Fail($"unknown command '{command}'; run 'agent --help'");
        }
    }

    private static async Task<int> ServeAsync(Func<WebApplication> createApp)
    {
        InlineIo.EnableUnlessConfigured();
        WebApplication app;
        try
        {
            app = createApp();
        }
        catch (Exception ex) when (ex is InvalidConfigurationException or AgentStartException)
        {
            return Fail(ex.Message);
        }
        catch (FormatException ex)
        {
            // The command-line configuration provider's complaint about a malformed switch.
            return Fail("invalid command line: " + ex.Message);
        }

        await using (app.ConfigureAwait(false))
        {
            var exit = app.Services.GetRequiredService<AgentExit>(); // disposing the app disposes the services
            var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
            try
            {
                await app.StartAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // What did start (the health probe, the registration loop, perhaps a lease) must stop
                // before the services are disposed under it: a failed start never stops the host by itself.
                await StopAfterFailedStartAsync(app, exit).ConfigureAwait(false);
                switch (ex)
                {
                    case OperationCanceledException when lifetime.ApplicationStopping.IsCancellationRequested:
                        // SIGTERM (or Ctrl-C) while starting, e.g. during the first Config Server fetch: what was asked for, so a clean exit.
                        LogStoppedWhileStarting(app.Logger);
                        return 0;
                    case IOException when ex.InnerException is AddressInUseException or SocketException:
                        return Fail("cannot listen: " + ex.Message);
                    case AgentStartException or InvalidConfigurationException:
                        return Fail(ex.Message);
                    default:
                        throw;
                }
            }

            await app.WaitForShutdownAsync().ConfigureAwait(false);
            return exit.Code ?? 0;
        }
    }

    private static async Task StopAfterFailedStartAsync(WebApplication app, AgentExit exit)
    {
        exit.StartFailed(); // nothing was served: no drain
        try
        {
            await app.StopAsync().ConfigureAwait(false); // bounded by the host's shutdown time-out
        }
#pragma warning disable CA1031 // the start failure is what gets reported; a second failure while stopping must not replace it
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogStopFailed(app.Logger, ex.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("agent: " + message);
        return ConfigurationError;
    }

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Stop requested while starting: stopped before serving")]
    private static partial void LogStoppedWhileStarting(ILogger logger);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Stopping after the failed start failed too: {Error}")]
    private static partial void LogStopFailed(ILogger logger, string error);
}

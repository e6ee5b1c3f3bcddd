using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Sidecar.Configuration;

namespace Sidecar.Hosting;

/// <summary>
/// The agent's commands (SPEC section 1): none to serve. Bad configuration, an unknown command or a
/// port that cannot be bound end with one line on stderr and exit code 2, never a stack trace.
/// </summary>
internal static class AgentCommandLine
{
    public const int ConfigurationError = 2;

    private const string Usage = """
        usage: agent [--Section:Key=value ...]                   serve the API beside an app started separately
               agent run [--Section:Key=value ...] -- CMD ARGS...  start the app as a child and serve beside it
               agent registry [--port 8761]                        an in-memory Eureka registry, for development only
               agent --help | --version

        Settings come from environment variables (see README: SIDECAR_PORT, APP_PORT, EUREKA_URLS, ...).
        """;

    public static async Task<int> RunAsync(string[] args, Func<string[], AgentHostOverrides?, IReadOnlyList<string>?, WebApplication> createApp)
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
                await Console.Out.WriteLineAsync("agent " + AgentIndexApi.Version).ConfigureAwait(false);
                return 0;
            case "run":
                var separator = Array.IndexOf(args, "--");
                if (separator < 0 || separator == args.Length - 1)
                {
                    return Fail("'agent run' needs the app's command after '--', e.g. agent run -- python3 app.py");
                }

                return await ServeAsync(() => createApp(args[1..separator], null, args[(separator + 1)..])).ConfigureAwait(false);
            case "registry":
                return await DevRegistry.DevRegistryCommand.RunAsync(args[1..]).ConfigureAwait(false);
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
        catch (InvalidConfigurationException ex)
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
            var exit = app.Services.GetRequiredService<AgentExit>(); // RunAsync disposes the services
            try
            {
                await app.RunAsync().ConfigureAwait(false);
                return exit.Code ?? 0;
            }
            catch (IOException ex) when (ex.InnerException is AddressInUseException or SocketException)
            {
                return Fail("cannot listen: " + ex.Message);
            }
            catch (AgentStartException ex)
            {
                return Fail(ex.Message);
            }
            catch (InvalidConfigurationException ex)
            {
                return Fail(ex.Message);
            }
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("agent: " + message);
        return ConfigurationError;
    }
}

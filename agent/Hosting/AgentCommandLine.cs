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
        usage: agent [--Section:Key=value ...]        serve the API (settings: environment variables, see README)
               agent registry [--port 8761]             an in-memory Eureka registry, for development only
               agent --help | --version
        """;

    public static async Task<int> RunAsync(string[] args, Func<string[], AgentHostOverrides?, WebApplication> createApp)
    {
        if (args.Length > 0 && args[0] is "-h" or "--help" or "help")
        {
            await Console.Out.WriteLineAsync(Usage).ConfigureAwait(false);
            return 0;
        }

        if (args.Length > 0 && args[0] is "--version" or "version")
        {
            await Console.Out.WriteLineAsync("agent " + AgentIndexApi.Version).ConfigureAwait(false);
            return 0;
        }

        if (args.Length > 0 && args[0] == "registry")
        {
            return await DevRegistry.DevRegistryCommand.RunAsync(args[1..]).ConfigureAwait(false);
        }

        if (args.Length > 0 && !args[0].StartsWith('-'))
        {
            return Fail($"unknown command '{args[0]}'; run 'agent --help'");
        }

        WebApplication app;
        try
        {
            app = createApp(args, null);
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
            try
            {
                await app.RunAsync().ConfigureAwait(false);
                return 0;
            }
            catch (IOException ex) when (ex.InnerException is AddressInUseException or SocketException)
            {
                return Fail("cannot listen: " + ex.Message);
            }
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("agent: " + message);
        return ConfigurationError;
    }
}

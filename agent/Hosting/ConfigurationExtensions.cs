using Microsoft.Extensions.Configuration.CommandLine;
using Sidecar.Configuration;

namespace Sidecar.Hosting;

internal static class ConfigurationExtensions
{
    /// <summary>
    /// Adds the short variables of SPEC section 2 above appsettings.json and <c>Section__Key</c>
    /// variables (below the command line), reads and validates every option, and registers them.
    /// </summary>
    /// <exception cref="InvalidConfigurationException">When a setting is invalid.</exception>
    public static AgentOptions AddAgentConfiguration(this WebApplicationBuilder builder, AgentHostOverrides? overrides)
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

        var options = AgentOptions.Load(builder.Configuration);
        if (overrides?.Options is { } adjust)
        {
            options = adjust(options);
        }

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(options.Sidecar);
        builder.Services.AddSingleton(options.App);
        builder.Services.AddSingleton(options.Health);
        builder.Services.AddSingleton(options.Forwarding);
        return options;
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

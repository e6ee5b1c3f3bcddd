using System.Collections;

namespace Sidecar.Configuration;

/// <summary>
/// Maps the short environment variables of docs/configuration.md (and their aliases) onto configuration
/// keys. It is added above the standard environment provider, so <c>APP_PORT</c> wins over
/// <c>App__Port</c> and appsettings.json, and below the command line.
/// </summary>
internal sealed class AgentVariablesConfigurationSource(IDictionary? environment = null) : IConfigurationSource
{
    public IConfigurationProvider Build(IConfigurationBuilder builder) =>
        new AgentVariablesConfigurationProvider(environment ?? Environment.GetEnvironmentVariables());
}

internal sealed class AgentVariablesConfigurationProvider(IDictionary environment) : ConfigurationProvider
{
    // Key -> the variable its value was read from, so an error names what the user wrote (an alias included).
    private Dictionary<string, string> _names = new(StringComparer.OrdinalIgnoreCase);

    public override void Load()
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var variable in AgentVariables.All)
        {
            // The documented name wins over its aliases; an alias is used only when the name is absent.
            if (TryRead(variable.Name, out var value))
            {
                data[variable.Key] = value;
                names[variable.Key] = variable.Name;
                continue;
            }

            foreach (var alias in variable.Aliases)
            {
                if (TryRead(alias, out value))
                {
                    data[variable.Key] = value;
                    names[variable.Key] = alias;
                    break;
                }
            }
        }

        Data = data;
        _names = names;
    }

    /// <summary>The variable (documented name or alias) the value of <paramref name="key"/> was read from; null when none was set.</summary>
    public string? NameFor(string key) => _names.GetValueOrDefault(key);

    // An empty value is kept (APP_HEALTH_URL= means "no probe"); only an absent variable is skipped.
    private bool TryRead(string name, out string? value)
    {
        value = environment.Contains(name) ? environment[name] as string : null;
        return value is not null;
    }
}

using System.Collections;

namespace Sidecar.Hosting;

/// <summary>
/// What an in-process test changes when it builds the real agent: the environment it reads
/// (instead of the process's), its options after validation (port 0), and services (a fake clock).
/// </summary>
internal sealed class AgentHostOverrides
{
    /// <summary>Replaces the process environment and appsettings.json: only these variables are read.</summary>
    public IDictionary? Environment { get; init; }

    /// <summary>Adjusts the validated options, e.g. to listen on port 0.</summary>
    public Func<AgentOptions, AgentOptions>? Options { get; init; }

    /// <summary>Registers replacements after the agent's own services (the last registration wins).</summary>
    public Action<IServiceCollection>? Services { get; init; }
}

using Sidecar.Configuration;

namespace Sidecar.Supervisor;

/// <summary>Supervisor mode (<c>agent run -- CMD ARGS...</c>, docs/operations.md#supervisor-mode-agent-run).</summary>
internal sealed record SupervisorOptions
{
    /// <summary>The app's command line: program and arguments. Empty when not supervising.</summary>
    public IReadOnlyList<string> Command { get; init; } = [];

    /// <summary>After SIGTERM, how long the app may take to exit before it is killed. Default 10 s (<c>Supervisor:GracePeriod</c>).</summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    internal static SupervisorOptions Read(SettingsReader r, IReadOnlyList<string> command) => new()
    {
        Command = command,
        GracePeriod = r.Duration("Supervisor:GracePeriod", TimeSpan.FromSeconds(10), TimeSpan.Zero, TimeSpan.FromMinutes(10)),
    };
}

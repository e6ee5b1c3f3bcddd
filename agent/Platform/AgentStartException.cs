namespace Sidecar.Platform;

/// <summary>A start-up failure the user can fix (a command that cannot start, a required source unreachable): one line, exit code 2.</summary>
internal sealed class AgentStartException(string message) : Exception(message);

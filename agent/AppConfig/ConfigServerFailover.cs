namespace Sidecar.AppConfig;

/// <summary>What a fetch does after a server failed to give a config (docs/config-server.md#servers-and-failures).</summary>
internal enum FailoverStep
{
    /// <summary>Ask the next server, for the same label.</summary>
    NextServer,

    /// <summary>The label is unknown: ask for the next label, from the first server.</summary>
    NextLabel,

    /// <summary>The fetch ends: every server gave no answer.</summary>
    EveryServerUnreachable,

    /// <summary>The fetch ends with this failure (or, after several, all of them).</summary>
    Fail,
}

/// <summary>
/// Spring's order of servers and labels (<c>ConfigServerConfigDataLoader</c>, docs/config-server.md#servers-and-failures),
/// with no I/O: after a failure, whether <see cref="ConfigServerClient"/> moves on to the next server, to
/// the next label, or ends the fetch.
/// </summary>
internal static class ConfigServerFailover
{
    /// <summary>
    /// With <see cref="MultipleUriStrategy.Always"/> any failure moves on to the next server; with
    /// <see cref="MultipleUriStrategy.ConnectionTimeoutOnly"/> only a server that gave no answer does, and
    /// any answer decides. Where the fetch would end, a 404 (the label is unknown) moves on to the next
    /// label; any other failure ends it, whatever labels remain.
    /// </summary>
    /// <param name="unreachable">The server gave no answer (refused, reset, time-out, cut short).</param>
    /// <param name="statusCode">The answer's status, when there was one.</param>
    /// <param name="hasNextServer">A server after this one is configured.</param>
    /// <param name="hasNextLabel">A label is being asked for and another label follows it.</param>
    /// <param name="unreachableForLabel">How many servers gave no answer for this label, this one included.</param>
    /// <param name="servers">How many servers are configured.</param>
    /// <param name="strategy">Which failures move on to the next server.</param>
    public static FailoverStep AfterFailure(
        bool unreachable, int? statusCode, bool hasNextServer, bool hasNextLabel, int unreachableForLabel, int servers, MultipleUriStrategy strategy)
    {
        if (hasNextServer && (unreachable || strategy == MultipleUriStrategy.Always))
        {
            return FailoverStep.NextServer;
        }

        if (statusCode == StatusCodes.Status404NotFound && hasNextLabel)
        {
            return FailoverStep.NextLabel;
        }

        return unreachableForLabel == servers ? FailoverStep.EveryServerUnreachable : FailoverStep.Fail;
    }
}

namespace Sidecar.Platform;

/// <summary>
/// Socket completions run on the epoll thread that saw them, and Kestrel runs requests there too,
/// instead of handing each read and write to the thread pool. For a proxy that only moves bytes
/// between sockets this saves several thread hand-offs per call: the profile of the default
/// showed about a quarter of the CPU in context switches, futex wake-ups and the pool's spinning
/// (docs/performance.md#what-was-tuned). The price: code that blocks on such a thread stalls the sockets it
/// serves, so nothing on the request path may block (logging is queued, see BufferedConsoleSink).
/// <para>
/// .NET reads the switch from the environment once, when the first socket is used, so it is set
/// at the start of <c>agent</c> and <c>agent run</c>. <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0</c>
/// turns both off. A supervised app does not inherit the agent's own setting.
/// </para>
/// <para>
/// With inline completions .NET starts one socket engine (an epoll thread) per core; the agent asks for
/// one (<c>DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT=1</c>, unless set), as nginx runs one worker here: a
/// call's client and upstream sockets then wake the same thread, about 10% less CPU per call at 1,000
/// rps with no loss at full load on two cores (docs/performance.md#what-was-tuned). The price: the
/// agent's socket work is one thread's, at most one core.
/// </para>
/// </summary>
internal static class InlineIo
{
    public const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>How many socket engines (epoll threads) .NET starts; read when <see cref="Variable"/> is.</summary>
    public const string EnginesVariable = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";

    private static readonly List<string> Set = [];

    /// <summary>The variables the agent set itself (so a child process must not get them).</summary>
    public static IReadOnlyList<string> SetByAgent => Set;

    /// <summary>Whether socket completions run inline in this process (and so Kestrel should too).</summary>
    public static bool Enabled => Environment.GetEnvironmentVariable(Variable) == "1";

    /// <summary>
    /// <c>await InlineIo.LeaveSocketThread();</c> after a background call's response arrived and before
    /// heavy synchronous work on it (parsing a large registry, writing a file): with inline I/O the
    /// continuation would otherwise run on the epoll thread and hold up every socket it serves.
    /// </summary>
    public static System.Runtime.CompilerServices.YieldAwaitable LeaveSocketThread() => Task.Yield();

    /// <summary>Turns inline completions on, on one socket engine, unless the environment already decided. Call before any socket exists.</summary>
    public static void EnableUnlessConfigured()
    {
        SetUnlessConfigured(Variable, "1");
        if (Enabled)
        {
            SetUnlessConfigured(EnginesVariable, "1");
        }
    }

    private static void SetUnlessConfigured(string variable, string value)
    {
        if (Environment.GetEnvironmentVariable(variable) is null)
        {
            Environment.SetEnvironmentVariable(variable, value);
            Set.Add(variable);
        }
    }
}

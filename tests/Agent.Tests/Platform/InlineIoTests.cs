using Sidecar.Tests.Support;

namespace Sidecar.Tests.Platform;

/// <summary>
/// The socket engines of a real agent process (docs/performance.md#what-was-tuned): one epoll thread unless
/// <c>DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT</c> says otherwise, and a supervised app that gets none of the
/// agent's own runtime tuning.
/// </summary>
public sealed class InlineIoTests
{
    // .NET names its socket engines' epoll threads so (/proc/PID/task/TID/comm).
    private const string EngineThread = ".NET Sockets";

    [Fact]
    public async Task TheAgent_RunsOneSocketEngine_UnlessTheVariableSaysHowMany()
    {
        await using var plain = AgentProcess.Start(Env());
        await using var three = AgentProcess.Start(Env(("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT", "3")));
        await plain.WaitForApiAsync();
        await three.WaitForApiAsync();

        Assert.Equal(1, EngineThreads(plain.Id));
        Assert.Equal(3, EngineThreads(three.Id));
    }

    [Fact]
    public async Task ASupervisedApp_DoesNotInheritTheAgentsSocketTuning()
    {
        const string script = """
            import os
            print("child:", os.environ.get("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "unset"), os.environ.get("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT", "unset"), flush=True)
            """;
        await using var agent = AgentProcess.Start(Env(), "run", "--", "python3", "-c", script);

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("child: unset unset", agent.Stdout, StringComparison.Ordinal);
    }

    private static Dictionary<string, string> Env(params (string Key, string Value)[] extra)
    {
        var env = new Dictionary<string, string> { ["SIDECAR_PORT"] = "0", ["APP_HEALTH_URL"] = "" };
        foreach (var (key, value) in extra)
        {
            env[key] = value;
        }

        return env;
    }

    private static int EngineThreads(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task").Count(task => File.ReadAllText(Path.Combine(task, "comm")).Trim() == EngineThread);
}

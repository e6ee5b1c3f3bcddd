using System.Globalization;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Supervisor;

/// <summary><c>agent run -- CMD</c> with real child processes (python3) under the real agent process.</summary>
public sealed class SupervisorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("supervisor-test").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dictionary<string, string> Env(params (string Key, string Value)[] extra)
    {
        var env = new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0",
            ["APP_HEALTH_URL"] = "",
        };
        foreach (var (key, value) in extra)
        {
            env[key] = value;
        }

        return env;
    }

    [Fact]
    public async Task TheApp_GetsTheAgentsAddressAndItsPort_CanCallTheAgentAtOnce_AndItsOutputPassesThrough()
    {
        const string script = """
            import os, urllib.request
            url = os.environ["SIDECAR_URL"]
            pong = urllib.request.urlopen(url + "/ping", timeout=5).read().decode()
            print("child:", url, os.environ["SIDECAR_PORT"], os.environ["APP_PORT"], pong, flush=True)
            """;
        var env = Env(("APP_PORT", "4567"));
        await using var agent = AgentProcess.Start(env, "run", "--", "python3", "-c", script);

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var port = (await agent.WaitForApiAsync()).Port; // SIDECAR_PORT=0: the port it bound
        Assert.Contains($"child: http://127.0.0.1:{port} {port} 4567 pong", agent.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutAppPort_TheAgentPicksAFreePort_AndProbesThere()
    {
        const string script = """import os; print("child port", os.environ["APP_PORT"], flush=True)""";
        await using var agent = AgentProcess.Start(Env(), "run", "--", "python3", "-c", script);

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var line = agent.Stdout.Split('\n').Single(l => l.StartsWith("child port ", StringComparison.Ordinal));
        var port = int.Parse(line["child port ".Length..].Trim(), CultureInfo.InvariantCulture);
        Assert.InRange(port, 1, 65535);
    }

    [Fact]
    public async Task WhenTheAppExitsOnItsOwn_TheAgentStops_WithTheAppsExitCode()
    {
        await using var agent = AgentProcess.Start(Env(), "run", "--", "python3", "-c", "import sys; sys.exit(7)");

        Assert.Equal(7, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("The app exited on its own with code 7", agent.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SigTerm_IsForwardedToTheApp_AndTheAgentExitsWithItsCode()
    {
        var marker = Path.Combine(_dir, "got-sigterm");
        var script = $$"""
            import signal, sys, time
            def stop(*_):
                open(r"{{marker}}", "w").write("yes")
                sys.exit(0)
            signal.signal(signal.SIGTERM, stop)
            print("child " + "ready", flush=True)
            while True: time.sleep(0.05)
            """;
        await using var agent = AgentProcess.Start(Env(("SIDECAR_DRAIN", "0s")), "run", "--", "python3", "-c", script);
        await agent.WaitForOutputAsync("child ready");

        agent.Terminate();

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(File.Exists(marker), "the app received SIGTERM");
    }

    [Fact]
    public async Task AnAppThatIgnoresSigTerm_IsKilledAfterTheGracePeriod()
    {
        const string script = """
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("child " + "ready", flush=True)
            while True: time.sleep(0.05)
            """;
        await using var agent = AgentProcess.Start(Env(("SIDECAR_DRAIN", "0s")), "run", "--Supervisor:GracePeriod=500ms", "--", "python3", "-c", script);
        await agent.WaitForOutputAsync("child ready");
        var started = DateTime.UtcNow;

        agent.Terminate();

        var code = await agent.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(code == 137, agent.Stdout + agent.Stderr); // 128 + SIGKILL
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(450), "it waited for the grace period");
        Assert.Contains("ignored SIGTERM", agent.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/nonexistent/app", "agent: cannot start '/nonexistent/app': no such file or directory (is it on PATH?)")]
    [InlineData("no-such-program-anywhere", "agent: cannot start 'no-such-program-anywhere': no such file or directory (is it on PATH?)")]
    public async Task ACommandThatCannotStart_IsOneLine_AndExitCode2(string program, string expected)
    {
        await using var agent = AgentProcess.Start(Env(), "run", "--", program);

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(expected, agent.Stderr.TrimEnd());
        Assert.DoesNotContain("   at ", agent.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACommandThatCannotStart_WithTheDefaultHealthUrl_AndRegistered_IsOneLine_AndLeavesNothingRegistered()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var env = new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
            ["APP_NAME"] = "orders",
            ["APP_PORT"] = LoopbackServer.RefusingPort().ToString(CultureInfo.InvariantCulture),
            ["EUREKA_URLS"] = eureka.ServiceUrl.AbsoluteUri,
            ["EUREKA_INSTANCE_ID"] = "orders-1",
        };

        // The health probe and the registration loop run while the child fails to start: both must stop cleanly.
        await using var agent = AgentProcess.Start(env, "run", "--", "no-such-program-anywhere");

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("agent: cannot start 'no-such-program-anywhere': no such file or directory (is it on PATH?)", agent.Stderr.TrimEnd());
        Assert.DoesNotContain("   at ", agent.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", agent.Stdout, StringComparison.Ordinal);
        Assert.Null(eureka.Instance("ORDERS", "orders-1")); // never registered, or cancelled
    }

    [Fact]
    public async Task RunWithoutACommand_IsOneLine_AndExitCode2()
    {
        await using var agent = AgentProcess.Start(Env(), "run");

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.StartsWith("agent: 'agent run' needs the app's command after '--'", agent.Stderr, StringComparison.Ordinal);
    }
}

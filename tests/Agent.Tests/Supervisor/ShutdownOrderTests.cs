using System.Globalization;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Supervisor;

/// <summary>
/// Supervisor mode's shutdown order (docs/operations.md): SIGTERM to the agent, OUT_OF_SERVICE, the
/// drain, SIGTERM to the app while the agent still serves, the app's exit, then the listener closes
/// and the lease is cancelled. With the real agent process and a python3 app.
/// </summary>
public sealed class ShutdownOrderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shutdown-order").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task TheAppsOwnShutdown_CallsAnotherServiceAndReadsItsConfig_ThroughTheAgent_AndEveryCallIsAnswered()
    {
        await using var eureka = await FakeEureka.StartAsync();
        await using var billing = await Upstream.StartAsync("billing");
        var config = Path.Combine(_dir, "app.properties");
        await File.WriteAllTextAsync(config, "greeting=hello\n");
        var outcome = Path.Combine(_dir, "outcome");
        // On SIGTERM the app does what a real one does on its way out: a last call to another service
        // and a read of its config, through the agent; it writes what it got, then exits.
        var script = $$"""
            import os, signal, sys, time, urllib.request
            url = os.environ["SIDECAR_URL"]
            def call(path):
                try:
                    with urllib.request.urlopen(url + path, timeout=5) as r:
                        return "%s %d %s" % (path, r.status, r.read().decode())
                except Exception as e:
                    return "%s failed %s" % (path, e)
            def stop(*_):
                at = int(time.time() * 1000)
                lines = [call("/v1/invoke/billing/charge"), call("/v1/config/greeting"), call("/v1/config")]
                with open(r"{{outcome}}", "w") as f:
                    f.write(str(at) + "\n" + "\n".join(lines) + "\n")
                sys.exit(0)
            signal.signal(signal.SIGTERM, stop)
            print("child " + "ready", flush=True)
            while True: time.sleep(0.02)
            """;
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["APP_NAME"] = "orders",
            ["APP_PORT"] = "8080",
            ["APP_HOST"] = "host-a",
            ["APP_HEALTH_URL"] = "",
            ["EUREKA_URLS"] = eureka.ServiceUrl.AbsoluteUri,
            ["ROUTES"] = "billing=" + billing.Url,
            ["CONFIG_FILE"] = config,
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_DRAIN"] = "500ms",
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
        }, "run", "--", "python3", "-c", script);
        await agent.WaitForOutputAsync("child ready");
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", "host-a:orders:8080")?.Status == InstanceStatus.Up, "the agent registered", TimeSpan.FromSeconds(20));

        agent.Terminate();

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var lines = (await File.ReadAllTextAsync(outcome)).TrimEnd().Split('\n');
        Assert.Equal("/v1/invoke/billing/charge 200 billing", lines[1]);
        Assert.Equal("/v1/config/greeting 200 hello", lines[2]);
        Assert.StartsWith("/v1/config 200 ", lines[3], StringComparison.Ordinal);
        Assert.Equal(1, billing.Count);

        // OUT_OF_SERVICE and the drain came first, the lease was cancelled only after the app was done.
        var sigtermAt = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(lines[0], CultureInfo.InvariantCulture));
        var outOfService = Assert.Single(eureka.RequestsFor("PUT", "/status"));
        var cancel = Assert.Single(eureka.RequestsFor("DELETE"));
        Assert.True(outOfService.At + TimeSpan.FromMilliseconds(450) <= sigtermAt, $"OUT_OF_SERVICE at {outOfService.At:O}, then the drain, then the app's SIGTERM at {sigtermAt:O}");
        Assert.True(sigtermAt <= cancel.At, $"the app's SIGTERM at {sigtermAt:O} before the cancel at {cancel.At:O}");
        var stdout = agent.Stdout;
        Assert.True(stdout.IndexOf("The app exited with code 0", StringComparison.Ordinal) < stdout.IndexOf("Cancelled the lease", StringComparison.Ordinal), stdout);
    }
}

using System.Globalization;
using System.Net;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

/// <summary>SIGTERM on the real process: OUT_OF_SERVICE first, then the drain (still serving), then the lease cancelled, then exit 0.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task SigTerm_SendsOutOfService_DrainsWhileServing_CancelsTheLease_AndExitsWith0()
    {
        await using var eureka = await FakeEureka.StartAsync();
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["APP_NAME"] = "orders",
            ["APP_PORT"] = "8080",
            ["APP_HOST"] = "host-a",
            ["APP_IP"] = "10.0.0.5",
            ["APP_HEALTH_URL"] = "",
            ["EUREKA_URLS"] = eureka.ServiceUrl.AbsoluteUri,
            ["SIDECAR_PORT"] = "0",
            // Long enough for the checks made during it on a loaded machine (it is real time: another process).
            ["SIDECAR_DRAIN"] = "4s",
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
        });
        using var client = new HttpClient { BaseAddress = await agent.WaitForApiAsync(TimeSpan.FromSeconds(20)) }; // port 0: the one the agent bound
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", "host-a:orders:8080")?.Status == InstanceStatus.Up, "the agent registered", TimeSpan.FromSeconds(20));

        agent.Terminate();

        // The drain: OUT_OF_SERVICE in Eureka, the lease still there, the agent still answering (and no longer ready).
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", "host-a:orders:8080")?.Status == InstanceStatus.OutOfService, "OUT_OF_SERVICE reached Eureka");
        Assert.Equal("pong", await client.GetStringAsync("ping"));
        Assert.Contains("OUT_OF_SERVICE", await client.GetStringAsync("status"), StringComparison.Ordinal);
        using (var ready = await client.GetAsync("v1/health/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        Assert.Empty(eureka.RequestsFor("DELETE"));

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var exitedAt = DateTimeOffset.UtcNow;

        var outOfService = Assert.Single(eureka.RequestsFor("PUT", "/status"));
        var cancel = Assert.Single(eureka.RequestsFor("DELETE"));
        Assert.StartsWith("?value=OUT_OF_SERVICE", outOfService.Query, StringComparison.Ordinal);
        Assert.Equal("/eureka/apps/ORDERS/host-a%3Aorders%3A8080", cancel.RawTarget);
        Assert.Equal(200, cancel.StatusCode);
        Assert.True(outOfService.At < cancel.At, "the status change came before the cancel");
        Assert.True(cancel.At - outOfService.At >= TimeSpan.FromMilliseconds(3900), $"the drain lasted {cancel.At - outOfService.At}");
        Assert.True(cancel.At <= exitedAt, "the cancel came before the exit");
        Assert.Null(eureka.Instance("ORDERS", "host-a:orders:8080"));
        Assert.Contains("Draining for 4s", agent.Stdout, StringComparison.Ordinal);
        Assert.Contains("Cancelled the lease of ORDERS/host-a:orders:8080", agent.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("300ms")]
    [InlineData("0s")]
    public async Task Stop_WithEurekaDown_SaysOutOfServiceDidNotReachEureka_AndPromisesNoRetryAfterTheCancel(string drain)
    {
        await using var eureka = await FakeEureka.StartAsync();
        var logs = new LogCapture();
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        environment["SIDECAR_DRAIN"] = drain;
        var agent = await RegisteredAgent.StartAsync(environment, logs: logs);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", "host-a:orders:8080")?.Status == InstanceStatus.Up, "the agent registered");
        await Eventually.TrueAsync(() => eureka.RequestsFor("GET", "/apps/ORDERS/").Count == 1, "the agent read its instance back");
        await eureka.DownAsync();

        await agent.DisposeAsync();

        var registration = logs.Entries.Where(e => e.Contains(" Sidecar.Registration.EurekaRegistrationService ", StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(registration, e => e.Contains("OUT_OF_SERVICE in Eureka", StringComparison.Ordinal));
        // The first retry (1 s) would come after the cancel. (This failed once in a full run, 2026-12-05, on a line the
        // assertion did not show: the lines are in its message now.)
        Assert.False(registration.Any(e => e.Contains("retrying in", StringComparison.Ordinal)), string.Join(Environment.NewLine, registration));
        Assert.Contains(registration, e => e.Contains("status override of ORDERS/host-a:orders:8080 failed on every server (connection refused); not retried: shutting down", StringComparison.Ordinal));
        if (drain != "0s")
        {
            Assert.Contains(registration, e => e.Contains($"Draining for {drain}, still serving; OUT_OF_SERVICE has not reached Eureka (status override failed on every server: connection refused)", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task SigTerm_WithEurekaDown_StillExitsWith0()
    {
        await using var eureka = await FakeEureka.StartAsync();
        await eureka.DownAsync();
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["APP_NAME"] = "orders",
            ["APP_PORT"] = "8080",
            ["APP_HEALTH_URL"] = "",
            ["EUREKA_URLS"] = eureka.ServiceUrl.AbsoluteUri,
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
        });
        await agent.WaitForOutputAsync("listening on");

        agent.Terminate();

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain("   at ", agent.Stdout + agent.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SigTerm_InSupervisorMode_ReachesTheAppAfterOutOfServiceAndTheDrain_AndBeforeTheCancel()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var marker = Path.Combine(Directory.CreateTempSubdirectory("eureka-supervisor").FullName, "sigterm-at");
        var script = $$"""
            import signal, sys, time
            def stop(*_):
                open(r"{{marker}}", "w").write(str(int(time.time() * 1000)))
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
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_DRAIN"] = "500ms",
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
        }, "run", "--", "python3", "-c", script);
        await agent.WaitForOutputAsync("child ready");
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", "host-a:orders:8080")?.Status == InstanceStatus.Up, "the agent registered", TimeSpan.FromSeconds(20));

        agent.Terminate();

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var sigtermAt = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(await File.ReadAllTextAsync(marker), CultureInfo.InvariantCulture));
        var outOfService = Assert.Single(eureka.RequestsFor("PUT", "/status"));
        var cancel = Assert.Single(eureka.RequestsFor("DELETE"));
        Assert.True(outOfService.At + TimeSpan.FromMilliseconds(450) <= sigtermAt, $"OUT_OF_SERVICE at {outOfService.At:O}, then the drain, then the app's SIGTERM at {sigtermAt:O}");
        Assert.True(sigtermAt <= cancel.At, $"the app's SIGTERM at {sigtermAt:O} before the cancel at {cancel.At:O}");
        Directory.Delete(Path.GetDirectoryName(marker)!, recursive: true);
    }

    [Fact]
    public async Task TheSupervisedAppExitingOnItsOwn_CancelsTheLeaseWithoutADrain_AndExitsWithItsCode()
    {
        await using var eureka = await FakeEureka.StartAsync();
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["APP_NAME"] = "orders",
            ["APP_PORT"] = "8080",
            ["APP_HOST"] = "host-a",
            ["APP_HEALTH_URL"] = "",
            ["EUREKA_URLS"] = eureka.ServiceUrl.AbsoluteUri,
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_DRAIN"] = "1m",
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
        }, "run", "--", "python3", "-c", "import time, sys; time.sleep(2); sys.exit(3)");

        Assert.Equal(3, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Single(eureka.RequestsFor("DELETE"));
        Assert.DoesNotContain("Draining", agent.Stdout, StringComparison.Ordinal);
    }
}

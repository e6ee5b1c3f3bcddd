using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Support;
using Xunit.Abstractions;

namespace Sidecar.Tests.Reliability;

/// <summary>
/// Issue 9, scenario 4: the app under the agent crashing and being restarted (the container runtime's
/// restart is the test's), its health flapping, and SIGTERM to the agent with calls in flight.
/// Real agent processes (<c>agent run -- python3 ...</c>) against the fake Eureka where a process matters.
/// </summary>
public sealed class AppLifecycleTests(ITestOutputHelper output) : IDisposable
{
    private const string Id = "host-a:orders:8080";
    private readonly string _dir = Directory.CreateTempSubdirectory("reliability-app").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // An app with a health endpoint that dies with exit code 3 when told to (GET /crash), and leaves on SIGTERM with 0.
    private const string CrashingApp = """
        import http.server, os, signal, sys
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/crash":
                    os._exit(3)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"UP"}')
            def log_message(self, *args):
                pass
        http.server.HTTPServer(("127.0.0.1", int(os.environ["APP_PORT"])), Handler).serve_forever()
        """;

    // Every port picked where it is bound: the agent listens on port 0 (and logs the port), and picks the
    // app's port itself (agent run without APP_PORT), registered in Eureka.
    private Dictionary<string, string> Environment(FakeEureka eureka) => new()
    {
        ["APP_NAME"] = "orders",
        ["APP_HOST"] = "host-a",
        ["APP_IP"] = "10.0.0.5",
        ["EUREKA_URLS"] = eureka.ServiceUrl.AbsoluteUri,
        ["EUREKA_INSTANCE_ID"] = Id,
        ["SIDECAR_PORT"] = "0",
        ["SIDECAR_DATA_DIR"] = Path.Combine(_dir, "data"),
        ["APP_HEALTH_INTERVAL"] = "200ms",
        ["SIDECAR_DRAIN"] = "5s", // skipped when the app is already gone
    };

    [Fact]
    public async Task TheAppCrashingTwice_TheAgentExitsWithItsCodeAndCancelsTheLease_AndTheRestartedPairIsRegisteredAgain()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var environment = Environment(eureka);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var figures = new Figures("app: crashes twice under the supervisor, restarted by the runtime");
        var codes = new List<int>();
        var upTimes = new List<TimeSpan>();
        var exitTimes = new List<TimeSpan>();

        for (var run = 0; run < 3; run++)
        {
            var started = Stopwatch.StartNew();
            await using var agent = AgentProcess.Start(environment, "run", "--", "python3", "-c", CrashingApp);
            await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, $"run {run + 1} registered UP", TimeSpan.FromSeconds(30));
            upTimes.Add(started.Elapsed);
            figures.Sent++;
            figures.Succeeded++;
            if (run == 2)
            {
                break;
            }

            var crashed = Stopwatch.StartNew();
            try
            {
                await client.GetAsync(new Uri($"http://127.0.0.1:{eureka.Instance("ORDERS", Id)!.Port}/crash"));
            }
            catch (HttpRequestException)
            {
                // the app died mid-answer, as intended
            }

            codes.Add(await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            exitTimes.Add(crashed.Elapsed);
            Assert.Null(eureka.Instance("ORDERS", Id)); // the lease was cancelled, no caller is sent to a dead app
            Assert.DoesNotContain("Draining", agent.Stdout, StringComparison.Ordinal);
        }

        Assert.Equal([3, 3], codes);
        Assert.Equal(2, eureka.RequestsFor("DELETE").Count);
        figures.Note($"agent exit codes {string.Join(",", codes)} (the app's); lease cancelled {eureka.RequestsFor("DELETE").Count} times")
            .Note($"crash to agent exit {string.Join(", ", exitTimes.Select(t => $"{t.TotalMilliseconds:0} ms"))}; start to UP in Eureka {string.Join(", ", upTimes.Select(t => $"{t.TotalMilliseconds:0} ms"))}")
            .Report(output);
    }

    [Fact]
    public async Task HealthFlapping_EveryChangeIsSeen_EurekaGetsThemRateLimited_AndEndsWithTheLastStatus()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        var probe = new FakeAppHealthProbe(healthy: true);
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_FAILURE_THRESHOLD"] = "1";
        await using var agent = await RegisteredAgent.StartAsync(environment, time, probe);
        var monitor = agent.Get<AppHealthMonitor>();
        await monitor.ProbeOnceAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "registered UP");
        var registrationsBefore = eureka.RequestsFor("POST").Count;
        var changes = 0;
        monitor.StatusChanged += (_, _) => Interlocked.Increment(ref changes);

        // 60 flips, one every 5 s of fake time (5 minutes): DOWN, UP, DOWN...
        for (var flip = 1; flip <= 60; flip++)
        {
            probe.Healthy = flip % 2 == 0;
            await monitor.ProbeOnceAsync(CancellationToken.None);
            time.Advance(TimeSpan.FromSeconds(5));
            await Task.Delay(5);
        }

        // The last flip left it UP; one more failure ends it DOWN, and that last change must win in Eureka.
        probe.Healthy = false;
        await monitor.ProbeOnceAsync(CancellationToken.None);
        Assert.Equal(InstanceStatus.Down, monitor.Current.Status);
        var settled = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(60),
            () => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Down, "Eureka shows the final DOWN", TimeSpan.FromSeconds(1));
        var sent = eureka.RequestsFor("POST").Count - registrationsBefore;

        using var healthcheck = await agent.Client.GetAsync("healthcheck");
        new Figures("app: health flapping, 61 changes in 5 min (fake clock)")
        {
            Sent = Volatile.Read(ref changes),
            Succeeded = sent,
            Lost = "0 (the final status reached Eureka)",
        }.Note($"{Volatile.Read(ref changes)} health changes, {sent} sent to Eureka (burst 2, then 4 a minute); final DOWN in Eureka {settled.TotalSeconds:0} s after it happened")
         .Report(output);
        Assert.Equal(61, Volatile.Read(ref changes));
        Assert.InRange(sent, 2, 2 + 22); // 2 at once, then at most 4 a minute over about 5.5 minutes
        Assert.True(settled <= TimeSpan.FromSeconds(15), $"the last change waited {settled} (one rate-limit slot is 15 s)");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, healthcheck.StatusCode);
    }

    [Fact]
    public async Task SigTerm_WithCallsInFlight_OutOfServiceBeforeTheAppStops_CallsComplete_LeaseCancelled_Exit0()
    {
        await using var eureka = await FakeEureka.StartAsync();
        await using var payments = await Upstream.StartAsync("payments", async (context, _) =>
        {
            if (context.Request.Path == "/slow")
            {
                await Task.Delay(TimeSpan.FromMilliseconds(2500));
            }

            await context.Response.WriteAsync("paid");
        });
        var marker = Path.Combine(_dir, "sigterm-at");
        var script = $$"""
            import signal, sys, time
            def stop(*_):
                open(r"{{marker}}", "w").write(str(int(time.time() * 1000)))
                sys.exit(0)
            signal.signal(signal.SIGTERM, stop)
            while True: time.sleep(0.02)
            """;
        var environment = Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        environment["SIDECAR_DRAIN"] = "1s";
        environment["ROUTES"] = $"payments={payments.Url}";
        await using var agent = AgentProcess.Start(environment, "run", "--", "python3", "-c", script);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "registered UP", TimeSpan.FromSeconds(30));
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = await agent.WaitForApiAsync(), Timeout = TimeSpan.FromSeconds(30) };

        // Six slow calls in flight (2.5 s each: longer than the drain), then SIGTERM.
        var inFlight = Enumerable.Range(0, 6).Select(_ => client.GetAsync("v1/invoke/payments/slow")).ToArray();
        await Eventually.TrueAsync(() => payments.Count == 6, "the six calls reached payments");
        var terminatedAt = DateTimeOffset.UtcNow;
        agent.Terminate();

        // During the drain new calls are still forwarded.
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.OutOfService, "OUT_OF_SERVICE reached Eureka");
        var duringDrain = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await client.GetAsync("v1/invoke/payments/fast");
            duringDrain.Add(response.StatusCode);
        }

        var exitCode = await agent.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var exitedAt = DateTimeOffset.UtcNow;
        var answers = await Task.WhenAll(inFlight);
        var sigtermAt = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(await File.ReadAllTextAsync(marker), CultureInfo.InvariantCulture));
        var outOfService = Assert.Single(eureka.RequestsFor("PUT", "/status"));
        var cancel = Assert.Single(eureka.RequestsFor("DELETE"));

        var completed = answers.Count(a => a.StatusCode == HttpStatusCode.OK);
        new Figures("app: SIGTERM to the agent with 6 calls in flight")
        {
            Sent = answers.Length + duringDrain.Count,
            Succeeded = completed + duringDrain.Count(s => s == HttpStatusCode.OK),
            Failed = answers.Length - completed + duringDrain.Count(s => s != HttpStatusCode.OK),
        }.Note($"OUT_OF_SERVICE {(outOfService.At - terminatedAt).TotalMilliseconds:0} ms after SIGTERM, app stopped {(sigtermAt - terminatedAt).TotalMilliseconds:0} ms, lease cancelled {(cancel.At - terminatedAt).TotalMilliseconds:0} ms, agent exited {(exitedAt - terminatedAt).TotalMilliseconds:0} ms with code {exitCode}")
         .Note($"{completed}/6 in-flight calls completed, {duringDrain.Count(s => s == HttpStatusCode.OK)}/5 calls during the drain forwarded")
         .Report(output);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.All(duringDrain, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.True(outOfService.At < sigtermAt, "OUT_OF_SERVICE reached Eureka before the app was told to stop");
        Assert.True(sigtermAt <= cancel.At, "the lease was cancelled after the app stopped");
        Assert.Equal(0, exitCode);
        Assert.Null(eureka.Instance("ORDERS", Id));
        foreach (var answer in answers)
        {
            answer.Dispose();
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Sidecar.Configuration;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;
using Xunit.Abstractions;

namespace Sidecar.Tests.Reliability;

/// <summary>Runs only when <c>SOAK_DURATION</c> is set (<c>bash bench/soak.sh 10m</c>): not part of CI.</summary>
public sealed class SoakFactAttribute : FactAttribute
{
    public SoakFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SOAK_DURATION")))
        {
            Skip = "soak: set SOAK_DURATION (e.g. 10m) to run it: bash bench/soak.sh 10m";
        }
    }
}

/// <summary>
/// Issue 9, scenario 7: the mix of the other scenarios for a given duration. The agent (its own
/// process, <c>dotnet agent.dll</c>) registered with three fake Eureka servers, reading a fake
/// Config Server, probing a fake app, calling three upstream instances under a steady load of GETs and
/// POSTs with and without keys, with config long-polls, fuzzed hostile requests, connection churn and
/// probes of the public listener on the side; every 5 s the next fault of a 90 s cycle (an instance
/// killed, hanging, answering 503; Eureka servers down, answering 500, restarted empty; the Config
/// Server down, truncating, changing; the app unhealthy; malformed instances registered and gone).
/// Issue 13 added: malformed registry entries all along (a port of 70000, host names with a space or a
/// bracket), calls with non-ASCII and control-character headers, and service churn (a new service
/// registered, called once and deregistered every second, its state freed after a 20 s retention).
/// The agent's memory (RSS, GC heap after a full collection), open handles and threads are sampled;
/// the last sample must not have grown beyond small bounds from the first one taken after warm-up.
/// </summary>
public sealed class SoakTests(ITestOutputHelper output)
{
    [SoakFact]
    [Trait("Category", "Soak")]
    public async Task Soak_TheMixOfLoadFaultsAndHostileInput_ShowsNoGrowthInMemoryHandlesOrThreads()
    {
        var duration = DurationParser.Parse(Environment.GetEnvironmentVariable("SOAK_DURATION")!);
        var sampleEvery = TimeSpan.FromSeconds(Math.Clamp(duration.TotalSeconds / 40, 5, 60));
        var ledger = new RequestLedger();
        FaultyUpstream[] orders = [await FaultyUpstream.StartAsync("a", ledger), await FaultyUpstream.StartAsync("b", ledger), await FaultyUpstream.StartAsync("c", ledger)];
        FakeEureka[] eureka = [await FakeEureka.StartAsync(), await FakeEureka.StartAsync(), await FakeEureka.StartAsync()];
        await using var config = await FakeConfigServer.StartAsync();
        await using var app = await FakeApp.StartAsync();
        config.Set("payments", new Dictionary<string, object?> { ["message"] = "v0", ["db.password"] = "soak-secret" });
        void Seed(FakeEureka server)
        {
            foreach (var instance in orders)
            {
                server.Registry.Register("ORDERS", EurekaInstances.Create("orders", $"127.0.0.1:orders:{instance.Port}", "127.0.0.1", "127.0.0.1", instance.Port));
            }

            // Malformed registrations, as anyone who can register could make them: always there, never called.
            foreach (var bad in MalformedInstances("seed"))
            {
                server.Registry.Register(bad.App, bad);
            }
        }

        foreach (var server in eureka)
        {
            Seed(server);
        }

        var dataDir = RegisteredAgent.NewDataDir();
        try
        {
            await RunAsync(duration, sampleEvery, ledger, orders, eureka, config, app, Seed, dataDir);
        }
        finally
        {
            foreach (var server in eureka)
            {
                await server.DisposeAsync();
            }

            foreach (var instance in orders)
            {
                await instance.DisposeAsync();
            }

            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    private async Task RunAsync(TimeSpan duration, TimeSpan sampleEvery, RequestLedger ledger, FaultyUpstream[] orders, FakeEureka[] eureka, FakeConfigServer config, FakeApp app, Action<FakeEureka> seed, string dataDir)
    {
        var heapFile = Path.Combine(Path.GetTempPath(), $"soak-heap-{Guid.NewGuid():N}");

        // The agent as its own process, so its memory, handles and threads are its own; its GC heap is
        // reported from inside by the StartupHook of this assembly (the agent's runtimeconfig turns startup
        // hooks off, as NativeAOT has none: a copy turns them on for this run only).
        var runtimeConfig = heapFile + ".runtimeconfig.json";
        await File.WriteAllTextAsync(runtimeConfig, (await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "agent.runtimeconfig.json")))
            .Replace("\"System.StartupHookProvider.IsSupported\": false", "\"System.StartupHookProvider.IsSupported\": true", StringComparison.Ordinal));
        await using var agent = AgentProcess.StartWithRuntimeConfig(runtimeConfig: runtimeConfig, environment: new Dictionary<string, string>
        {
            ["APP_NAME"] = "payments",
            ["APP_PORT"] = app.Port.ToString(CultureInfo.InvariantCulture),
            ["APP_HOST"] = "host-a",
            ["APP_HEALTH_INTERVAL"] = "1s",
            ["APP_HEALTH_FAILURE_THRESHOLD"] = "1",
            ["EUREKA_URLS"] = string.Join(",", eureka.Select(e => e.ServiceUrl.AbsoluteUri)),
            ["EUREKA_RENEW_INTERVAL"] = "2s",
            ["EUREKA_FETCH_INTERVAL"] = "2s",
            ["Eureka__ReadTimeout"] = "1s",
            ["CONFIG_SERVER_URLS"] = config.BaseUri.AbsoluteUri,
            ["CONFIG_POLL_INTERVAL"] = "2s",
            ["Forwarding__TryTimeout"] = "300ms",
            ["Forwarding__EjectionTime"] = "2s",
            ["Forwarding__ServiceRetention"] = "20s",
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_PUBLIC_HEALTH_PORT"] = "0",
            ["SIDECAR_DATA_DIR"] = dataDir,
            ["SIDECAR_DRAIN"] = "0s",
            ["SIDECAR_LOG_LEVEL"] = "error",
            ["DOTNET_STARTUP_HOOKS"] = Path.Combine(AppContext.BaseDirectory, "Agent.Tests.dll"),
            ["SOAK_HEAP_FILE"] = heapFile,
        });
        var listeners = await agent.WaitForListenersAsync(TimeSpan.FromSeconds(30)); // port 0: the ports the agent bound
        var port = listeners[0].Port;
        var publicPort = listeners[1].Port;
        var baseUri = new Uri($"http://127.0.0.1:{port}/");
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(10) };
        await Eventually.TrueAsync(() => eureka.Any(e => e.Instance("PAYMENTS", "host-a:payments:" + app.Port) is not null), "registered", TimeSpan.FromSeconds(30));
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                using var response = await client.GetAsync("v1/services/orders/instances");
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false; // registered already, not yet listening
            }
        }, "orders discovered", TimeSpan.FromSeconds(30));

        using var stop = new CancellationTokenSource();
        var counters = new SideCounters();
        await using var load = new LoadRunner(baseUri, "v1/invoke/orders/work", concurrency: 6).Start();
        Task[] side =
        [
            LongPollsAsync(baseUri, counters, stop.Token),
            FuzzAsync(port, counters, stop.Token),
            ChurnAsync(port, publicPort, counters, stop.Token),
            HeaderMixAsync(port, counters, stop.Token),
            ServiceChurnAsync(baseUri, eureka, orders, counters, stop.Token),
        ];

        var samples = new List<Sample>();
        var started = Stopwatch.StartNew();
        var nextSample = TimeSpan.Zero;
        var step = 0;
        var duplicates = 0;
        while (started.Elapsed < duration)
        {
            await FaultStepAsync(step++, orders, eureka, config, app, seed);
            foreach (var server in eureka.Where(e => !e.IsDown))
            {
                // The seeded instances renew, as their own agents would.
                foreach (var instance in orders)
                {
                    server.Registry.Renew("ORDERS", $"127.0.0.1:orders:{instance.Port}", null);
                }
            }

            if (started.Elapsed >= nextSample)
            {
                duplicates += ledger.Duplicates("POST-").Count;
                ledger.Clear(); // the fakes' own records would grow otherwise
                foreach (var server in eureka)
                {
                    server.ClearRequests();
                }

                config.ClearRequests();
                samples.Add(await Sample.TakeAsync(started.Elapsed, load, counters, agent.Id, heapFile));
                output.WriteLine(samples[^1].ToString());
                nextSample += sampleEvery;
            }

            await Task.Delay(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(started.Elapsed.Ticks % TimeSpan.FromSeconds(5).Ticks));
        }

        // The end: every fault healed, then the last sample.
        for (var i = 0; i < 2; i++)
        {
            await FaultStepAsync(-1, orders, eureka, config, app, seed);
        }

        await stop.CancelAsync();
        await load.StopAsync();
        await Task.WhenAll(side);
        await Task.Delay(TimeSpan.FromSeconds(5)); // idle connections and ejections settle
        duplicates += ledger.Duplicates("POST-").Count;
        samples.Add(await Sample.TakeAsync(started.Elapsed, load, counters, agent.Id, heapFile));
        output.WriteLine(samples[^1].ToString());
        Assert.Equal("pong", await client.GetStringAsync("ping"));
        var orderInstances = await client.GetStringAsync("v1/services/orders/instances");
        var metrics = await client.GetStringAsync("metrics");
        var churnServices = System.Text.RegularExpressions.Regex.Matches(metrics, "service=\"(churn[0-9]+)\"").Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal).Count();
        agent.Terminate();
        var exitCode = await agent.WaitForExitAsync(TimeSpan.FromSeconds(60));
        File.Delete(heapFile);
        File.Delete(runtimeConfig);

        // Compare with the first sample after warm-up (a fifth of the run).
        var baseline = samples.First(s => s.At >= duration / 5);
        var last = samples[^1];
        var totals = load.Phases.Select(p => load[p]).ToList();
        var sent = totals.Sum(r => r.Sent);
        var idempotentFailed = totals.Sum(r => r.FailedOf(CallKind.Get) + r.FailedOf(CallKind.PostWithKey));
        var report = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"# Soak, {DurationParser.Format(duration)}, {DateTimeOffset.UtcNow:u}, {Environment.ProcessorCount} cores\n\n")
            .Append("| at | calls | failed | side requests | RSS MiB | GC heap MiB | handles | threads |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var sample in samples)
        {
            report.Append(sample.Row()).Append('\n');
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Figures.ResultsFile)!);
        await File.WriteAllTextAsync(Path.Combine(Path.GetDirectoryName(Figures.ResultsFile)!, "soak.md"), report.ToString());
        output.WriteLine(report.ToString());
        new Figures($"soak: {DurationParser.Format(duration)} of mixed load, faults and hostile input")
        {
            // Forwarded calls only, so sent = succeeded + failed; the side requests have their own line.
            Sent = sent,
            Succeeded = totals.Sum(r => r.Succeeded),
            Failed = totals.Sum(r => r.Failed),
            Lost = $"{idempotentFailed} idempotent calls failed, {duplicates} POSTs sent twice",
        }.Note($"{load[load.Phases[0]].Describe()}")
         .Note($"side requests, not in the figures above: {counters.Total} ({counters})")
         .Note($"retries refused by the budget {Metric(metrics, "sidecar_forward_retry_budget_exhausted_total")}, ejections {Metric(metrics, "sidecar_forward_ejections_total")}")
         .Note($"services churned {counters.Count("churn called")} ({counters.Count("churn unseen")} not seen while Eureka was down), churned services still with series at the end {churnServices}; orders instances routed to: {CountInstances(orderInstances)} of 3 good + malformed ones")
         .Note($"from {baseline.At.TotalMinutes:0.0} min to the end: RSS {baseline.RssMiB:0.0} -> {last.RssMiB:0.0} MiB, GC heap {baseline.HeapMiB:0.0} -> {last.HeapMiB:0.0} MiB, handles {baseline.Handles} -> {last.Handles}, threads {baseline.Threads} -> {last.Threads}")
         .Report(output);

        foreach (var wrong in counters.WrongAnswers)
        {
            output.WriteLine("hostile request answered wrongly: " + wrong);
        }

        Assert.Empty(counters.WrongAnswers);
        Assert.Equal(0, counters.Count("new connection failed"));
        Assert.Equal(0, counters.Count("long-poll failed"));
        Assert.Equal(3, CountInstances(orderInstances)); // the malformed registrations are never among them
        Assert.True(counters.Count("churn called") > 0, "no churned service was called");
        // Freed 20 s (the retention) to 40 s (a sweep later) after they left: the last minute's at most, never all of them.
        Assert.True(churnServices <= 60, $"{churnServices} churned services still have series: their state is not freed");
        Assert.Equal(0, duplicates);
        Assert.Equal(0, exitCode);
        Assert.DoesNotContain("Unhandled error", agent.Stdout, StringComparison.Ordinal);
        Assert.True(last.HeapMiB - baseline.HeapMiB < 10, $"GC heap grew {baseline.HeapMiB:0.0} -> {last.HeapMiB:0.0} MiB");
        Assert.True(last.RssMiB - baseline.RssMiB < 60, $"RSS grew {baseline.RssMiB:0.0} -> {last.RssMiB:0.0} MiB");
        Assert.True(last.Handles - baseline.Handles < 40, $"handles grew {baseline.Handles} -> {last.Handles}");
        Assert.True(last.Threads - baseline.Threads < 20, $"threads grew {baseline.Threads} -> {last.Threads}");
    }

    // The value of an unlabelled-service counter in Prometheus text (orders' line), "?" when absent.
    private static string Metric(string text, string family)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(family + "{", StringComparison.Ordinal) && line.Contains("service=\"orders\"", StringComparison.Ordinal))
            {
                return line[(line.LastIndexOf(' ') + 1)..].Trim();
            }
        }

        return "?";
    }

    // One step of a 90 s cycle of faults (a step every 5 s); -1 heals everything.
    private static async Task FaultStepAsync(int step, FaultyUpstream[] orders, FakeEureka[] eureka, FakeConfigServer config, FakeApp app, Action<FakeEureka> seed)
    {
        switch (step < 0 ? -1 : step % 18)
        {
            case 0:
                await orders[0].KillAsync();
                break;
            case 1:
                await orders[0].ReviveAsync();
                orders[1].Mode = UpstreamMode.Hang;
                break;
            case 2:
                orders[1].Mode = UpstreamMode.Normal;
                orders[2].Mode = UpstreamMode.Fail503;
                break;
            case 3:
                orders[2].Mode = UpstreamMode.Normal;
                await eureka[0].DownAsync();
                break;
            case 4:
                await eureka[0].RestartAsync(empty: false);
                eureka[1].Fail500 = true;
                break;
            case 5:
                eureka[1].Fail500 = false;
                eureka[2].Hang = true;
                break;
            case 6:
                eureka[2].Hang = false;
                config.Body = FakeConfigBody.Truncated;
                break;
            case 7:
                config.Body = FakeConfigBody.Normal;
                config.SetProperty("payments", "message", "v" + step.ToString(CultureInfo.InvariantCulture));
                break;
            case 8:
                await config.StopAsync();
                app.Mode = "error";
                break;
            case 9:
                await config.RestartAsync();
                app.Mode = "ok";
                break;
            case 10:
                foreach (var server in eureka)
                {
                    await server.DownAsync();
                }

                break;
            case 11:
                foreach (var server in eureka)
                {
                    await server.RestartAsync(empty: true);
                    seed(server);
                }

                break;
            case 12:
                config.Body = FakeConfigBody.Binary;
                await app.CloseAsync();
                break;
            case 13:
                config.Body = FakeConfigBody.Normal;
                await app.OpenAsync();
                break;
            case 14:
                // New malformed instances appear (deltas bring them); the good instances keep answering.
                foreach (var server in eureka.Where(e => !e.IsDown))
                {
                    foreach (var bad in MalformedInstances($"step{step}"))
                    {
                        server.Registry.Register(bad.App, bad);
                    }
                }

                break;
            case 16:
                foreach (var server in eureka.Where(e => !e.IsDown))
                {
                    foreach (var bad in MalformedInstances($"step{step - 2}"))
                    {
                        server.Registry.Cancel(bad.App, bad.InstanceId);
                    }
                }

                break;
            default:
                break; // quiet steps: the agent recovers in plain sight
            case -1:
                foreach (var instance in orders)
                {
                    await instance.ReviveAsync();
                    instance.Mode = UpstreamMode.Normal;
                }

                foreach (var server in eureka)
                {
                    server.Fail500 = false;
                    server.Hang = false;
                    if (server.IsDown)
                    {
                        await server.RestartAsync(empty: false);
                    }
                }

                config.Body = FakeConfigBody.Normal;
                await config.RestartAsync();
                await app.OpenAsync();
                app.Mode = "ok";
                break;
        }
    }

    private static int CountInstances(string json)
    {
        using var document = System.Text.Json.JsonDocument.Parse(json);
        return document.RootElement.GetArrayLength();
    }

    // Registrations a real Eureka accepts and no call can use (issue 13, point 1).
    private static IEnumerable<Sidecar.Eureka.EurekaInstanceInfo> MalformedInstances(string tag)
    {
        yield return EurekaInstances.Create("orders", $"bad-port-{tag}", "127.0.0.1", "127.0.0.1", 70000);
        yield return EurekaInstances.Create("orders", $"bad-host-{tag}", "bad host", "10.0.0.9", 8080);
        yield return EurekaInstances.Create("orders", $"bad-colon-{tag}", "x:1", "10.0.0.9", 8080);
        yield return EurekaInstances.Create("broken", $"bad-bracket-{tag}", "[", "10.0.0.9", 8080);
    }

    // Calls with header values HttpClient would not send as they are: non-ASCII ones go through as their bytes,
    // control characters are the caller's 400. Neither may cost an instance anything.
    private static async Task HeaderMixAsync(int port, SideCounters counters, CancellationToken stop)
    {
        string[] values = ["Jos\u00c3\u00a9 (UTF-8)", "Jos\u00e9 (Latin-1)", "\u00e6\u00f8\u00e5 \u00ff\u00fe", "a\u0001b", "esc\u001b[31m"];
        var i = 0;
        while (!stop.IsCancellationRequested)
        {
            var value = values[i++ % values.Length];
            var request = $"GET /v1/invoke/orders/work HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User: {value}\r\nConnection: close\r\n\r\n";
            var answer = await RawClient.SendAsync(port, RawClient.Bytes(request), TimeSpan.FromSeconds(40));
            var control = value.Any(c => c < ' ');
            var wrong = control
                ? answer.Status == 400 && answer.Header("X-Sidecar-Error") == "bad-request" ? null : $"a control character answered {answer.Status}"
                : HostileInputTests.Judge(answer, request, forwarded: true, upstreamsHealthy: false);
            if (wrong is not null)
            {
                counters.Add("header mix wrong");
                counters.Wrong($"{wrong} ({answer}) for X-User: {value}");
            }
            else
            {
                // 200, the control characters' 400, or the instance's own answer (a Kestrel instance refuses bytes that are not UTF-8 with a 400).
                counters.Add($"header mix {answer.Status}");
            }

            await Delay(TimeSpan.FromMilliseconds(100), stop);
        }
    }

    // Every second a new service: registered, called once when the agent knows it, deregistered.
    private static async Task ServiceChurnAsync(Uri agent, FakeEureka[] eureka, FaultyUpstream[] orders, SideCounters counters, CancellationToken stop)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = agent, Timeout = TimeSpan.FromSeconds(40) };
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var name = $"churn{n}";
            var instance = EurekaInstances.Create(name, $"{name}-1", "127.0.0.1", "127.0.0.1", orders[n % orders.Length].Port);
            foreach (var server in eureka)
            {
                server.Registry.Register(instance.App, instance);
            }

            var seen = false;
            for (var look = 0; look < 50 && !seen && !stop.IsCancellationRequested; look++)
            {
                try
                {
                    using var known = await client.GetAsync($"v1/services/{name}/instances", stop);
                    seen = known.IsSuccessStatusCode;
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
                {
                    // the agent is busy or the soak is stopping: look again
                }

                if (!seen)
                {
                    await Delay(TimeSpan.FromMilliseconds(200), stop);
                }
            }

            if (seen)
            {
                try
                {
                    using var response = await client.GetAsync($"v1/invoke/{name}/work", stop);
                    counters.Add("churn called");
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
                {
                    counters.Add("churn called"); // an instance fault of the cycle: the service was still called
                }
            }
            else
            {
                counters.Add("churn unseen");
            }

            foreach (var server in eureka)
            {
                server.Registry.Cancel(instance.App, instance.InstanceId);
            }

            await Delay(TimeSpan.FromSeconds(1), stop);
        }
    }

    private static async Task LongPollsAsync(Uri agent, SideCounters counters, CancellationToken stop)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = agent, Timeout = TimeSpan.FromSeconds(30) };
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            var etag = "\"0\"";
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, "v1/config?wait=5s");
                    request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(etag));
                    using var response = await client.SendAsync(request, stop);
                    etag = response.Headers.ETag?.ToString() ?? etag;
                    counters.Add(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NotModified ? "long-poll ok" : "long-poll failed");
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (HttpRequestException)
                {
                    counters.Add("long-poll failed");
                }
            }
        }));
    }

    private static async Task FuzzAsync(int port, SideCounters counters, CancellationToken stop)
    {
        var fuzzer = new RequestFuzzer(new Random(7), ["/ping", "/v1/health", "/v1/invoke/orders/api", "/proxy", "/v1/config", "/dynamicproperties", "/status", "/v1/registration/status", "/"], port);
        while (!stop.IsCancellationRequested)
        {
            var request = fuzzer.Next();
            if (request.Text.StartsWith("PUT /v1/registration/status", StringComparison.Ordinal))
            {
                continue; // keep the instance in rotation: the soak is about the agent, not about the app leaving
            }

            // Longer than the forwarder's 30 s deadline: a streamed upload to a hanging instance waits for it.
            var answer = await RawClient.SendAsync(port, request.Bytes, TimeSpan.FromSeconds(40));
            if (HostileInputTests.Judge(answer, request.Text, request.Forwarded, upstreamsHealthy: false) is { } wrong)
            {
                counters.Add("hostile wrong");
                counters.Wrong($"{wrong} ({answer}) for: {request.Summary}");
            }
            else
            {
                counters.Add("hostile ok");
            }
            await Delay(TimeSpan.FromMilliseconds(50), stop);
        }
    }

    private static async Task ChurnAsync(int port, int publicPort, SideCounters counters, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var answer = await RawClient.SendAsync(port, RawClient.Bytes("GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
            var probe = await RawClient.SendAsync(publicPort, RawClient.Bytes("GET /v1/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
            counters.Add(answer.Status == 200 && probe.Status == 200 ? "new connection ok" : "new connection failed");
            await Delay(TimeSpan.FromMilliseconds(20), stop);
        }
    }

    private static async Task Delay(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, stop);
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    /// <summary>Counts of the side traffic (long-polls, hostile requests, new connections), by outcome.</summary>
    private sealed class SideCounters
    {
        private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);
        private readonly List<string> _wrong = [];

        /// <summary>The first answers to hostile requests that broke a rule, for the report.</summary>
        public IReadOnlyList<string> WrongAnswers
        {
            get
            {
                lock (_wrong)
                {
                    return [.. _wrong];
                }
            }
        }

        public void Wrong(string description)
        {
            lock (_wrong)
            {
                if (_wrong.Count < 20)
                {
                    _wrong.Add(description);
                }
            }
        }

        public long Total
        {
            get
            {
                lock (_counts)
                {
                    return _counts.Values.Sum();
                }
            }
        }

        public long Count(string outcome)
        {
            lock (_counts)
            {
                return _counts.GetValueOrDefault(outcome);
            }
        }

        public void Add(string outcome)
        {
            lock (_counts)
            {
                _counts[outcome] = _counts.GetValueOrDefault(outcome) + 1;
            }
        }

        public override string ToString()
        {
            lock (_counts)
            {
                return string.Join(", ", _counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}"));
            }
        }
    }

    private sealed record Sample(TimeSpan At, long Calls, long Failed, long Side, double RssMiB, double HeapMiB, int Handles, int Threads)
    {
        /// <summary>The agent process's RSS, handles and threads from /proc, and its GC heap after a full collection from its StartupHook.</summary>
        public static async Task<Sample> TakeAsync(TimeSpan at, LoadRunner load, SideCounters side, int pid, string heapFile)
        {
            var before = File.Exists(heapFile) ? File.GetLastWriteTimeUtc(heapFile) : DateTime.MinValue;
            await File.WriteAllTextAsync(heapFile + ".request", "");
            await Eventually.TrueAsync(() => File.Exists(heapFile) && File.GetLastWriteTimeUtc(heapFile) > before && !File.Exists(heapFile + ".request"),
                "the agent reported its heap", TimeSpan.FromSeconds(20));
            var heap = long.Parse((await File.ReadAllTextAsync(heapFile)).Split(' ')[0], CultureInfo.InvariantCulture);
            var results = load.Phases.Select(p => load[p]).ToList();
            return new Sample(at, results.Sum(r => r.Sent), results.Sum(r => r.Failed), side.Total,
                RawClient.RssMiB(pid), heap / (1024.0 * 1024), RawClient.OpenHandles(pid), RawClient.Threads(pid));
        }

        public string Row() => string.Create(CultureInfo.InvariantCulture,
            $"| {At:mm\\:ss} | {Calls} | {Failed} | {Side} | {RssMiB:0.0} | {HeapMiB:0.0} | {Handles} | {Threads} |");

        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"{At:mm\\:ss} calls {Calls} failed {Failed} side {Side} RSS {RssMiB:0.0} MiB heap {HeapMiB:0.0} MiB handles {Handles} threads {Threads}");
    }
}

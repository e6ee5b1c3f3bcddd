using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Sidecar.Discovery;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Observability;
using Sidecar.Tests.Support;
using Xunit.Abstractions;

namespace Sidecar.Tests.Reliability;

/// <summary>
/// Issue 9, scenario 6: where the agent listens, what the public health listener serves, where the
/// forwarder may go, and that secrets from the config never reach a log line or an answer other than
/// the app's own config.
/// </summary>
public sealed class SecurityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task TheApi_ListensOnLoopbackOnlyByDefault_AndOnlyThePublicHealthListenerOnEveryInterface()
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_PUBLIC_HEALTH_PORT"] = "0",
            ["APP_HEALTH_URL"] = "",
        });
        var listeners = await agent.WaitForListenersAsync(); // port 0: the ports the agent bound
        var port = listeners[0].Port;
        var publicPort = listeners[1].Port;

        var api = ListeningAddresses(port);
        var health = ListeningAddresses(publicPort);
        Assert.Equal(["127.0.0.1"], api);
        Assert.Equal([Socket.OSSupportsIPv6 ? "::" : "0.0.0.0"], health); // [::] is dual-mode: IPv4 and IPv6 clients

        // Through any other address of this machine, IPv6 ones included, the API is closed, the health listener open.
        var others = NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => !IPAddress.IsLoopback(a) && (a.AddressFamily == AddressFamily.InterNetwork ||
                        (a.AddressFamily == AddressFamily.InterNetworkV6 && Socket.OSSupportsIPv6 && !a.IsIPv6LinkLocal)))
            .ToList();
        foreach (var address in others)
        {
            Assert.False(await CanConnectAsync(address, port), $"the API answered on {address}");
            Assert.True(await CanConnectAsync(address, publicPort), $"the public health listener did not answer on {address}");
        }

        new Figures("security: listening addresses")
        {
            Sent = 2 + (2 * others.Count),
            Succeeded = 2 + (2 * others.Count),
        }.Note($"API on {string.Join(", ", api)}:{port}, public health on {string.Join(", ", health)}:{publicPort}; API refused on {others.Count} non-loopback address(es) ({string.Join(", ", others)})")
         .Report(output);
    }

    [Fact]
    public async Task ThePublicHealthListener_ServesGetAndHeadOfTheHealthRoutesOnly_AndNeverForwards()
    {
        await using var canary = await Upstream.StartAsync("canary");
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["ROUTES"] = $"orders={canary.Url}",
            ["SIDECAR_PUBLIC_HEALTH_PORT"] = "9999", // the harness listens on a free port instead
            ["APP_HEALTH_URL"] = "",
        });
        var publicPort = agent.PublicHealthUri!.Port;
        using var index = JsonDocument.Parse(await agent.Client.GetStringAsync(""));
        var paths = index.RootElement.GetProperty("routes").EnumerateArray().Select(r => r.GetProperty("path").GetString()!
            .Replace("{serviceId}", "orders", StringComparison.Ordinal).Replace("{name}", "orders", StringComparison.Ordinal)
            .Replace("{service}", "orders", StringComparison.Ordinal).Replace("{**key}", "k", StringComparison.Ordinal)
            .Replace("{**path}", "x", StringComparison.Ordinal)).ToList();
        var healthRoutes = new[] { "/ping", "/healthcheck", "/status", "/v1/health", "/v1/health/live", "/v1/health/ready" };
        // The actuator's endpoints served by default (docs/actuator.md#security): its index, health and info; "x" is no health component.
        var actuatorRoutes = new[] { "/actuator", "/actuator/health", "/actuator/info", "/actuator/health/x" };
        var wrong = new List<string>();
        var sent = 0;

        foreach (var path in paths)
        {
            foreach (var method in new[] { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS" })
            {
                var answer = await RawHttp.SendAsync(publicPort, $"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{publicPort}\r\nContent-Length: 0");
                sent++;
                var isHealth = healthRoutes.Contains(path) || actuatorRoutes.Contains(path);
                var expected = !isHealth ? 404 : method is not ("GET" or "HEAD") ? 405 : path == "/actuator/health/x" ? 404 : 200;
                if (answer.Status != expected || (method == "HEAD" && answer.Body.Length > 0) ||
                    (answer.Status >= 400 && answer.Header("X-Sidecar-Error") is null && method != "HEAD"))
                {
                    wrong.Add($"{method} {path}: {answer.Status} {answer.Header("X-Sidecar-Error")} ({answer.Body.Length} bytes)");
                }
            }
        }

        // The forward-proxy forms: never forwarded from this listener.
        foreach (var (line, host) in new[]
                 {
                     ("GET http://orders/x HTTP/1.1", "orders"),
                     ("GET /x HTTP/1.1", "orders"),
                     ("GET /v1/invoke/orders/x HTTP/1.1", "127.0.0.1"),
                     ("GET /proxy?vip=orders&path=/x HTTP/1.1", "127.0.0.1"),
                     ("CONNECT orders:80 HTTP/1.1", "orders:80"),
                 })
        {
            var answer = await RawHttp.SendAsync(publicPort, $"{line}\r\nHost: {host}");
            sent++;
            if (answer.Status is not (404 or 405))
            {
                wrong.Add($"{line} (Host {host}): {answer.Status}");
            }
        }

        new Figures("security: public health listener")
        {
            Sent = sent,
            Succeeded = sent - wrong.Count,
            Failed = wrong.Count,
            Lost = $"{canary.Count} requests forwarded",
        }.Note($"{paths.Count} routes x 7 methods + 5 forward-proxy forms; only GET/HEAD of {healthRoutes.Length} health routes and the actuator's index, health and info answered")
         .Report(output);
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        Assert.Equal(0, canary.Count);
    }

    [Fact]
    public async Task TheForwarder_ReachesOnlyKnownInstances_NeverItselfInALoop_NorMetadataAddressesUnlessRegistered()
    {
        await using var canary = await Upstream.StartAsync("canary");
        var source = new FakeServiceInstanceSource();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "", ["SIDECAR_LOG_LEVEL"] = "warning" },
            services => services.AddSingleton<IServiceInstanceSource>(source));
        var port = agent.BaseUri.Port;

        // A registry entry pointing at the agent's own API (say, an app registered with APP_PORT = SIDECAR_PORT).
        source.Set("self", FakeServiceInstanceSource.Instance("self", port), FakeServiceInstanceSource.Instance("self", port, host: "localhost"));
        source.Set("orders", FakeServiceInstanceSource.Instance("orders", canary.Port));
        var cases = new (string Line, string Host, int[] Allowed)[]
        {
            ($"GET /v1/invoke/self/v1/invoke/self/v1/invoke/self/ping HTTP/1.1", "127.0.0.1", [503]),
            ($"GET /proxy?vip=self&path=/v1/invoke/self/ping HTTP/1.1", "127.0.0.1", [503]),
            ($"GET http://self/v1/invoke/self/ping HTTP/1.1", "self", [503]),
            ($"GET /v1/invoke/self/ping HTTP/1.1", "self", [503]),
            ($"GET /v1/invoke/169.254.169.254/latest/meta-data/ HTTP/1.1", "127.0.0.1", [404]),
            ($"GET /proxy?vip=169.254.169.254&path=/latest/meta-data/ HTTP/1.1", "127.0.0.1", [404]),
            ($"GET http://169.254.169.254/latest/meta-data/ HTTP/1.1", "169.254.169.254", [404]),
            ($"GET http://metadata.google.internal/computeMetadata/v1/ HTTP/1.1", "metadata.google.internal", [404]),
            ($"GET http://[fd00:ec2::254]/latest/meta-data/ HTTP/1.1", "[fd00:ec2::254]", [404]),
            ($"GET http://127.0.0.1:{canary.Port}/x HTTP/1.1", $"127.0.0.1:{canary.Port}", [404]),
            ($"GET /v1/invoke/127.0.0.1:{canary.Port}/x HTTP/1.1", "127.0.0.1", [404]),
            ($"GET /v1/invoke/unknown/x HTTP/1.1", "127.0.0.1", [404]),
            ($"GET /x HTTP/1.1", "unknown", [404, 421]), // 421: a loopback API answers only to its own names and known services
            ($"GET /v1/invoke/orders/x HTTP/1.1", "127.0.0.1", [200]), // the control: a known instance is reached
        };
        var wrong = new List<string>();
        foreach (var (line, host, allowed) in cases)
        {
            var answer = await RawHttp.SendAsync(port, $"{line}\r\nHost: {host}");
            if (!allowed.Contains(answer.Status))
            {
                wrong.Add($"{line} (Host {host}): {answer.Status} {answer.Header("X-Sidecar-Error")} {answer.Body}");
            }
        }

        new Figures("security: the forwarder's reach")
        {
            Sent = cases.Length,
            Succeeded = cases.Length - wrong.Count,
            Failed = wrong.Count,
        }.Note($"the agent's own API as an instance: left out (503 no-instance), never a loop; metadata and unknown addresses 404; the known instance reached {canary.Count} time(s)")
         .Report(output);
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        Assert.Equal(1, canary.Count);
    }

    [Fact]
    public async Task ARequestComingBackThroughAnotherAgent_IsRefusedWith508_InsteadOfGoingRoundAgain()
    {
        var sourceA = new FakeServiceInstanceSource();
        var sourceB = new FakeServiceInstanceSource();
        await using var a = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "", ["SIDECAR_LOG_LEVEL"] = "warning" },
            services => services.AddSingleton<IServiceInstanceSource>(sourceA));
        await using var b = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "", ["SIDECAR_LOG_LEVEL"] = "warning" },
            services => services.AddSingleton<IServiceInstanceSource>(sourceB));

        // Each agent sees the other as an instance (two sidecars whose registry entries point at each other's API).
        sourceA.Set("b", FakeServiceInstanceSource.Instance("b", b.BaseUri.Port));
        sourceB.Set("a", FakeServiceInstanceSource.Instance("a", a.BaseUri.Port));

        // A -> B -> A: the second arrival at A carries A's own Via entry. Without the check A would forward
        // once more and B would answer its own /ping.
        using var response = await a.Client.GetAsync("v1/invoke/b/v1/invoke/a/v1/invoke/b/ping");

        await ForwardingTests.AssertProblemAsync(response, (HttpStatusCode)508, "loop-detected");
        var atA = await Scrape.TakeAsync(a);
        var atB = await Scrape.TakeAsync(b);
        Assert.Equal(2, atA.Value("sidecar_forward_requests_total", ("service", "b"), ("method", "GET"), ("code", "508"))); // the call, and its return refused
        Assert.Equal(1, atA.Value("sidecar_forward_errors_total", ("service", "b"), ("error", "loop-detected")));
        Assert.Equal(1, atB.Value("sidecar_forward_requests_total", ("service", "a"), ("method", "GET"), ("code", "508")));
        new Figures("security: a loop through a second agent")
        {
            Sent = 1,
            Succeeded = 1,
        }.Note("A -> B -> A refused at A's second arrival (508 loop-detected, Via carries A's pseudonym); 3 hops in all").Report(output);
    }

    [Fact]
    public async Task AnInstanceWhoseHostNameResolvesToTheAgent_IsRefusedWith508_AfterOneHop_NotThousands()
    {
        // A name of this machine's hosts file that resolves to loopback (the CI machine has one; a
        // container usually lists its own host name): names are never resolved by the self check, so
        // only the Via entry can stop this loop. Without it: about 3000 hops in 2 s and 6000 descriptors.
        var name = LoopbackHostName();
        if (name is null)
        {
            output.WriteLine("no host name resolving to 127.0.0.1 in /etc/hosts besides localhost: the loop through a name is not tried here");
            return;
        }

        var source = new FakeServiceInstanceSource();
        await using var agent = await AgentHarness.StartAsync(
            new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "", ["SIDECAR_LOG_LEVEL"] = "warning", ["Forwarding__Timeout"] = "5s" },
            services => services.AddSingleton<IServiceInstanceSource>(source));
        source.Set(name, FakeServiceInstanceSource.Instance(name, agent.BaseUri.Port, host: name));

        // The instance gets Host: {name}:{port}, a known service name: the agent would forward it again, forever.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var response = await agent.Client.GetAsync($"v1/invoke/{name}/x");

        await ForwardingTests.AssertProblemAsync(response, (HttpStatusCode)508, "loop-detected");
        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(2, scrape.Value("sidecar_forward_requests_total", ("service", name), ("method", "GET"), ("code", "508")));
        new Figures("security: a loop through a host name")
        {
            Sent = 1,
            Succeeded = 1,
        }.Note($"instance '{name}:{agent.BaseUri.Port}' (resolves to the agent): refused at the second arrival, 2 hops in {watch.Elapsed.TotalMilliseconds:0} ms").Report(output);
    }

    [Fact]
    public async Task Secrets_FromConfigCredentialsAndCalls_NeverReachALogLineOrAnyAnswerButTheAppsOwnConfig()
    {
        const string rotated = "db-Pa55-rotated-secret";
        string[] secrets =
        [
            "cfg-P4ss-secret", "vault-T0ken-secret", "db-Pa55-secret", rotated, "api-T0k-secret", "cl1ent-secret", "ds-Pa55-secret",
            "eu-P4ss-secret", "qs-secret-123", "hdr-secret-456", "ck-secret-789",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("cfg-user:cfg-P4ss-secret")),
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("eu-user:eu-P4ss-secret")),
        ];
        await using var config = await FakeConfigServer.StartAsync();
        config.BasicAuth = ("cfg-user", "cfg-P4ss-secret");
        config.RequiredToken = "vault-T0ken-secret";
        config.Set("orders", new Dictionary<string, object?>
        {
            ["db.password"] = "db-Pa55-secret",
            ["api.token"] = "api-T0k-secret",
            ["client-secret"] = "cl1ent-secret",
            ["spring.datasource.password"] = "ds-Pa55-secret",
            ["message"] = "hello",
        });
        await using var eureka = await FakeEureka.StartAsync();
        await using var payments = await Upstream.StartAsync("payments", (context, _) =>
        {
            context.Response.StatusCode = 500;
            return Task.CompletedTask;
        });
        var dataDir = RegisteredAgent.NewDataDir();

        // The real process at its most verbose, in JSON (every structured property is written): what any log sink would get.
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["APP_NAME"] = "orders",
            ["APP_PORT"] = "8080",
            ["APP_HEALTH_URL"] = "",
            ["EUREKA_URLS"] = $"http://eu-user:eu-P4ss-secret@127.0.0.1:{eureka.Port}/eureka/",
            ["CONFIG_SERVER_URLS"] = $"http://cfg-user:cfg-P4ss-secret@127.0.0.1:{config.Port}/",
            ["AppConfig__Token"] = "vault-T0ken-secret",
            ["CONFIG_POLL_INTERVAL"] = "1s",
            ["ROUTES"] = $"payments={payments.Url}",
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_PUBLIC_HEALTH_PORT"] = "0",
            ["SIDECAR_DATA_DIR"] = dataDir,
            ["SIDECAR_LOG_LEVEL"] = "verbose",
            ["SIDECAR_LOG_FORMAT"] = "json",
            ["SIDECAR_DRAIN"] = "0s",
        });
        var port = (await agent.WaitForApiAsync()).Port; // port 0: the one the agent bound
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        await Eventually.TrueAsync(() => eureka.Requests.Any(r => r.Method == "POST" && r.StatusCode == 204), "registered", TimeSpan.FromSeconds(30));

        // A rotation (the change is logged, by key), a refused credential, Eureka gone, and calls carrying secrets that fail upstream.
        config.SetProperty("orders", "db.password", rotated);
        await Eventually.TrueAsync(() => agent.Stdout.Contains("Config changed", StringComparison.Ordinal), "the rotation was picked up");
        config.BasicAuth = ("cfg-user", "another");
        await Eventually.TrueAsync(() => agent.Stdout.Contains("Config refresh failed", StringComparison.Ordinal), "the refused refresh was logged");
        await eureka.DownAsync();
        using (var request = new HttpRequestMessage(HttpMethod.Get, "v1/invoke/payments/x?token=qs-secret-123"))
        {
            request.Headers.Add("Authorization", "Bearer hdr-secret-456");
            request.Headers.Add("Cookie", "session=ck-secret-789");
            using var _ = await client.SendAsync(request);
        }

        using (await client.GetAsync("proxy?vip=payments&path=/x%3Ftoken%3Dqs-secret-123")) { }
        using (await client.GetAsync("v1/config?prefix=db.&token=qs-secret-123")) { }

        // Everything an operator or a scraper can see: every answer but the app's own config, on both listeners.
        var publicPort = (await agent.WaitForListenersAsync())[1].Port; // port 0: the one the agent bound
        using var publicClient = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{publicPort}/") };
        var seen = new List<(string Where, string Text)>();
        foreach (var path in new[] { "", "v1/health", "v1/health/ready", "status", "healthcheck", "v1/services", "hosts/payments", "v1/services/payments/instances", "eureka/hosts?appName=orders", "metrics" })
        {
            foreach (var accept in new[] { "application/json", "text/html" })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, path);
                request.Headers.Add("Accept", accept);
                using var response = await client.SendAsync(request);
                seen.Add(($"GET /{path} ({accept}) {(int)response.StatusCode}", await response.Content.ReadAsStringAsync()));
            }

            using var onPublic = await publicClient.GetAsync(path);
            seen.Add(($"public GET /{path} {(int)onPublic.StatusCode}", await onPublic.Content.ReadAsStringAsync()));
        }

        // The control: the app itself does get its secrets, on the loopback API only.
        var ownConfig = await client.GetStringAsync("v1/config/db.password");
        using var refused = await publicClient.GetAsync("v1/config/db.password");

        // SIGTERM: a deregistration against a Eureka that is gone is logged too.
        agent.Terminate();
        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var lines = (agent.Stdout + agent.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        seen.Add(("logs", agent.Stdout + agent.Stderr));
        var leaks = seen.SelectMany(s => secrets.Where(secret => s.Text.Contains(secret, StringComparison.Ordinal)).Select(secret => $"{secret} in {s.Where}")).ToList();
        var copy = Directory.GetFiles(dataDir, "*", SearchOption.AllDirectories).Single(f => f.EndsWith("config.lkg", StringComparison.Ordinal));
        var mode = OperatingSystem.IsWindows() ? UnixFileMode.UserRead | UnixFileMode.UserWrite : File.GetUnixFileMode(copy);

        new Figures("security: secrets in logs and answers")
        {
            Sent = seen.Count,
            Succeeded = seen.Count(s => !secrets.Any(x => s.Text.Contains(x, StringComparison.Ordinal))),
            Failed = seen.Count(s => secrets.Any(x => s.Text.Contains(x, StringComparison.Ordinal))),
            Lost = $"{leaks.Count} secrets leaked",
        }.Note($"{secrets.Length} secrets (config values, Basic and token credentials, query, Authorization, Cookie) looked for in {lines.Length} verbose JSON log lines and {seen.Count - 1} answers; last-known-good copy mode {mode}")
         .Note("answers checked: the status page at / (HTML and JSON), /metrics, health, status, discovery routes, on both listeners")
         .Report(output);
        Assert.True(leaks.Count == 0, string.Join("\n", leaks) + "\n" + string.Join("\n", lines.Where(l => secrets.Any(x => l.Contains(x, StringComparison.Ordinal)))));
        Assert.Contains(lines, l => l.Contains("db.password", StringComparison.Ordinal)); // the change was logged, by key
        Assert.Contains(seen, s => s.Where.StartsWith("GET / (text/html) 200", StringComparison.Ordinal) && s.Text.Contains("hello", StringComparison.Ordinal)); // the status page shows plain values
        Assert.Contains(lines, l => l.Contains("/v1/invoke/payments/x", StringComparison.Ordinal)); // the calls were logged, without their query
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        Assert.Equal(rotated, ownConfig);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Directory.Delete(dataDir, recursive: true);
    }

    [Fact]
    public async Task CredentialsInTheHealthUrl_AndInConfigValuesUnderInnocentKeys_AreMaskedInLogsHealthAnswersAndTheStatusPage()
    {
        const string jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ";
        string[] secrets = ["pr0be-Pw-secret", "pr0be-T0ken-secret", "hunter2xx", "Hunter3yy", "Qu3ry-pw", "eyJzdWIiOiJjYW5hcnkifQ", "c2lnbmF0dXJlLWNhbmFyeQ", "dXNlcjpCYXNpYzQ0"];
        await using var app = await FakeApp.StartAsync();
        var dir = Directory.CreateTempSubdirectory("sidecar-redact-").FullName;
        var file = Path.Combine(dir, "app.json");
        var values = new Dictionary<string, string>
        {
            ["db.url"] = "postgres://admin:hunter2xx@db/x",
            ["ConnectionStrings.Default"] = "Server=x;User Id=u;Password=Hunter3yy;",
            ["auth.header"] = "Bearer " + jwt,
            ["sso.assertion"] = jwt,
            ["legacy.auth"] = "Basic dXNlcjpCYXNpYzQ0",
            ["callback"] = "https://cb.example/x?user=u&password=Qu3ry-pw&lang=en",
            ["greeting"] = "hello",
        };
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["db"] = new Dictionary<string, string> { ["url"] = values["db.url"] },
            ["ConnectionStrings"] = new Dictionary<string, string> { ["Default"] = values["ConnectionStrings.Default"] },
            ["auth"] = new Dictionary<string, string> { ["header"] = values["auth.header"] },
            ["sso"] = new Dictionary<string, string> { ["assertion"] = values["sso.assertion"] },
            ["legacy"] = new Dictionary<string, string> { ["auth"] = values["legacy.auth"] },
            ["callback"] = values["callback"],
            ["greeting"] = values["greeting"],
        }));
        var logs = new LogCapture();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = $"http://probe-user:pr0be-Pw-secret@127.0.0.1:{app.Port}/health?token=pr0be-T0ken-secret&verbose",
            ["APP_HEALTH_INTERVAL"] = "100ms",
            ["CONFIG_FILE"] = file,
            ["SIDECAR_PUBLIC_HEALTH_PORT"] = "9999", // the harness listens on a free port instead
        }, logs.Install);
        await Eventually.TrueAsync(() => app.HealthCalls > 0 && logs.Contains("Probing app health"), "the app was probed");
        using var publicClient = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = agent.PublicHealthUri };

        var seen = new List<(string Where, string Text)>();
        foreach (var path in new[] { "", "?view=fragment", "v1/health", "v1/health/ready" })
        {
            foreach (var accept in new[] { "application/json", "text/html" })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, path);
                request.Headers.Add("Accept", accept);
                using var response = await agent.Client.SendAsync(request);
                seen.Add(($"GET /{path} ({accept}) {(int)response.StatusCode}", await response.Content.ReadAsStringAsync()));
            }

            using var onPublic = await publicClient.GetAsync(path);
            seen.Add(($"public GET /{path} {(int)onPublic.StatusCode}", await onPublic.Content.ReadAsStringAsync()));
        }

        seen.Add(("logs", logs.Text));
        var leaks = seen.SelectMany(s => secrets.Where(secret => s.Text.Contains(secret, StringComparison.Ordinal)).Select(secret => $"{secret} in {s.Where}")).ToList();
        using var status = JsonDocument.Parse(seen[0].Text);
        var shown = status.RootElement.GetProperty("config").GetProperty("keys").EnumerateArray()
            .ToDictionary(k => k.GetProperty("key").GetString()!, k => (Value: k.GetProperty("value").GetString(), Masked: k.GetProperty("masked").GetBoolean()));
        using var health = JsonDocument.Parse(seen.Single(s => s.Where.StartsWith("public GET /v1/health 200", StringComparison.Ordinal)).Text);
        var served = new Dictionary<string, string>();
        foreach (var key in values.Keys)
        {
            served[key] = await agent.Client.GetStringAsync("v1/config/" + key);
        }

        new Figures("security: credentials in the health URL and config values")
        {
            Sent = seen.Count,
            Succeeded = seen.Count(s => !secrets.Any(x => s.Text.Contains(x, StringComparison.Ordinal))),
            Failed = seen.Count(s => secrets.Any(x => s.Text.Contains(x, StringComparison.Ordinal))),
            Lost = $"{leaks.Count} secrets leaked",
        }.Note($"{secrets.Length} secrets (health URL user info and query value; URL user info, a connection-string password, a query password, Bearer, Basic and bare JWTs under innocent keys) looked for in {logs.Entries.Count} log entries and {seen.Count - 1} answers")
         .Report(output);
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));
        Assert.Equal($"http://***@127.0.0.1:{app.Port}/health?token=***&***", health.RootElement.GetProperty("probe").GetString());
        Assert.Contains(logs.Entries, e => e.Contains($"Probing app health at http://***@127.0.0.1:{app.Port}/health?token=***&*** ", StringComparison.Ordinal));
        Assert.Equal(("postgres://***@db/x", true), shown["db.url"]);
        Assert.Equal(("Server=x;User Id=u;Password=••••••;", true), shown["ConnectionStrings.Default"]);
        Assert.Equal(("Bearer ••••••", true), shown["auth.header"]);
        Assert.Equal(("••••••", true), shown["sso.assertion"]);
        Assert.Equal(("Basic ••••••", true), shown["legacy.auth"]);
        Assert.Equal(("https://cb.example/x?user=u&password=••••••&lang=en", true), shown["callback"]);
        Assert.Equal(("hello", false), shown["greeting"]);
        Assert.Equal(values, served); // the app itself gets the real values
        Directory.Delete(dir, recursive: true);
    }

    private static string? LoopbackHostName()
    {
        if (!File.Exists("/etc/hosts"))
        {
            return null;
        }

        foreach (var line in File.ReadLines("/etc/hosts"))
        {
            var fields = line.Split('#')[0].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2 || !IPAddress.TryParse(fields[0], out var address) || !address.Equals(IPAddress.Loopback))
            {
                continue;
            }

            foreach (var name in fields.Skip(1))
            {
                if (!name.StartsWith("localhost", StringComparison.OrdinalIgnoreCase) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.') &&
                    Dns.GetHostAddresses(name).All(IPAddress.IsLoopback))
                {
                    return name.ToLowerInvariant();
                }
            }
        }

        return null;
    }

    private static List<string> ListeningAddresses(int port)
    {
        var addresses = new List<string>();
        foreach (var file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (var line in File.ReadLines(file).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var local = fields[1].Split(':');
                if (fields[3] == "0A" && int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port)
                {
                    addresses.Add(Decode(local[0]));
                }
            }
        }

        return addresses;
    }

    // /proc/net/tcp writes addresses as little-endian 32-bit words in hex.
    private static string Decode(string hex)
    {
        var bytes = Convert.FromHexString(hex);
        for (var i = 0; i < bytes.Length; i += 4)
        {
            Array.Reverse(bytes, i, 4);
        }

        return new IPAddress(bytes).ToString();
    }

    private static async Task<bool> CanConnectAsync(IPAddress address, int port)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await socket.ConnectAsync(address, port, cts.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}

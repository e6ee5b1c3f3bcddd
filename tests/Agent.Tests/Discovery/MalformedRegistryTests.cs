using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Sidecar.Discovery;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Discovery;

/// <summary>
/// Issue 13, point 1: anyone who can register in Eureka can put a malformed instance there (a port of
/// 70000, a host name with a space). That instance is left out with one warning naming it; the rest of
/// the registry applies, at start, on every delta and from the snapshot.
/// </summary>
public sealed class MalformedRegistryTests
{
    /// <summary>Host names the agent once choked on (UriBuilder threw for each), and the ports it did.</summary>
    public static readonly TheoryData<string, int, string> Malformed = new()
    {
        { "bad host", 9000, "hostName 'bad host' is not a DNS name or an IP address" },
        { "[", 9000, "hostName '[' is not a DNS name or an IP address" },
        { "a%b", 9000, "hostName 'a%b' is not a DNS name or an IP address" },
        { "x:1", 9000, "hostName 'x:1' is not a DNS name or an IP address" },
        { "a\\b", 9000, "hostName 'a\\b' is not a DNS name or an IP address" },
        { "fe80::1%eth0", 9000, "hostName 'fe80::1%eth0' is not a DNS name or an IP address" },
        { "pay-bad", 70000, "port 70000 is not in 1-65535" },
        { "pay-bad", 0, "port 0 is not in 1-65535" },
        { "pay-bad", -1, "port -1 is not in 1-65535" },
    };

    private static Dictionary<string, string?> Environment(FakeEureka eureka, string? dataDir = null)
    {
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        if (dataDir is not null)
        {
            environment["SIDECAR_DATA_DIR"] = dataDir;
        }

        return environment;
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void AView_LeavesTheMalformedInstanceOut_KeepsTheOthers_AndCountsItInTheHash(string host, int port, string reason)
    {
        var good = EurekaInstances.Create("payments", "p1", "pay-1", "10.0.1.1", 9000);
        var bad = EurekaInstances.Create("payments", "p2", host, "10.0.1.2", port);
        var other = EurekaInstances.Create("billing", "b1", "bill-1", "10.0.2.1", 9100);

        var view = new RegistryView(new EurekaApplications("1", "", [new EurekaApplication("PAYMENTS", [good, bad]), new EurekaApplication("BILLING", [other])]),
            RegistryOrigin.Server, null, DateTimeOffset.UtcNow, preferIp: false);

        Assert.Equal("p1", Assert.Single(view.GetInstances("payments")!).InstanceId);
        Assert.Equal("b1", Assert.Single(view.GetInstances("billing")!).InstanceId);
        Assert.Equal(new RejectedInstance("PAYMENTS", "p2", reason), Assert.Single(view.Rejected));
        Assert.Equal("UP_3_", view.HashCode); // as the server counts: every instance it holds
        Assert.Equal(2, view.InstanceCount);
    }

    [Fact]
    public void WithPreferIp_TheIpAddressIsChecked_NotTheHostName()
    {
        var instance = EurekaInstances.Create("payments", "p1", "bad host", "10.0.1.1", 9000);
        var badIp = EurekaInstances.Create("payments", "p2", "pay-2", "10.0.1.2/24", 9000);

        var view = new RegistryView(new EurekaApplications("1", "", [new EurekaApplication("PAYMENTS", [instance, badIp])]),
            RegistryOrigin.Server, null, DateTimeOffset.UtcNow, preferIp: true);

        Assert.Equal("10.0.1.1", Assert.Single(view.GetInstances("payments")!).Host);
        Assert.Equal("ipAddr '10.0.1.2/24' is not a DNS name or an IP address", Assert.Single(view.Rejected).Reason);
    }

    [Fact]
    public void APortBeyondTheIntegers_StaysOutOfRange_InsteadOfWrappingToAValidPort()
    {
        // 4294967376 is 2^32 + 80: truncated to an int it would be port 80.
        var applications = EurekaJsonReader.ReadApplications(Encoding.UTF8.GetBytes("""
            {"applications":{"application":[{"name":"PAYMENTS","instance":[
              {"instanceId":"p1","app":"PAYMENTS","hostName":"pay-1","ipAddr":"10.0.1.1","status":"UP","port":{"$":4294967376,"@enabled":"true"}},
              {"instanceId":"p2","app":"PAYMENTS","hostName":"pay-2","ipAddr":"10.0.1.2","status":"UP","port":{"$":"8080.5","@enabled":"true"}},
              {"instanceId":"p3","app":"PAYMENTS","hostName":"pay-3","ipAddr":"10.0.1.3","status":"UP","port":{"$":"9000","@enabled":"true"}}]}]}}
            """));

        var view = new RegistryView(applications, RegistryOrigin.Server, null, DateTimeOffset.UtcNow, preferIp: false);

        Assert.Equal("p3", Assert.Single(view.GetInstances("payments")!).InstanceId);
        Assert.Equal(["p1: port 2147483647 is not in 1-65535", "p2: port 0 is not in 1-65535"], view.Rejected.Select(r => $"{r.InstanceId}: {r.Reason}"));
    }

    [Fact]
    public async Task AnAgentStartingWithoutSnapshot_RoutesToTheGoodInstances_WarnsOncePerBadOne_AndKeepsApplyingDeltas()
    {
        var time = RegisteredAgent.NewClock();
        await using var payments = await Upstream.StartAsync("payments");
        await using var billing = await Upstream.StartAsync("billing");
        await using var eureka = await FakeEureka.StartAsync(time);
        eureka.Seed(EurekaInstances.Create("payments", "p1", "127.0.0.1", "127.0.0.1", payments.Port));
        eureka.Seed(EurekaInstances.Create("payments", "p-space", "bad host", "10.0.1.2", 9000));
        eureka.Seed(EurekaInstances.Create("payments", "p-port", "pay-3", "10.0.1.3", 70000));
        eureka.Seed(EurekaInstances.Create("stock", "s-bracket", "[", "10.0.3.1", 9000));
        var logs = new LogCapture();
        await using var agent = await RegisteredAgent.StartAsync(Environment(eureka), time, logs: logs);
        var registry = agent.Get<EurekaRegistry>();
        await Eventually.TrueAsync(() => registry.View.Origin == RegistryOrigin.Server, "the full fetch applied");

        using (var response = await agent.Client.GetAsync("v1/invoke/payments/x"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var ready = await agent.Client.GetAsync("v1/health/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        // A service whose only instance is malformed is known, with nothing to call.
        using (var response = await agent.Client.GetAsync("v1/invoke/stock/x"))
        {
            await ForwardingTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "no-instance");
        }

        // Deltas go on applying: a new service is found, a removed instance stops getting calls.
        eureka.Seed(EurekaInstances.Create("billing", "b1", "127.0.0.1", "127.0.0.1", billing.Port));
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromMinutes(2), () => registry.View.GetInstances("billing") is not null, "the delta brought billing");
        eureka.Registry.Cancel("PAYMENTS", "p1");
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromMinutes(2), () => registry.View.GetInstances("payments")!.Count == 0, "the delta removed p1");
        using (var response = await agent.Client.GetAsync("v1/invoke/billing/x"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Several refreshes later: one warning per bad instance, naming app, id and reason; no error, no trace.
        var warnings = logs.Entries.Where(e => e.Contains("[259]", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, warnings.Count);
        Assert.Contains(warnings, w => w.Contains("Registry instance PAYMENTS/p-space left out: hostName 'bad host' is not a DNS name or an IP address", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("Registry instance PAYMENTS/p-port left out: port 70000 is not in 1-65535", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("Registry instance STOCK/s-bracket left out: hostName '[' is not a DNS name or an IP address", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Entries, e => e.StartsWith("Error", StringComparison.Ordinal) || e.Contains("   at ", StringComparison.Ordinal));
        Assert.Equal(1, eureka.RequestsFor("GET").Count(r => r.Path.EndsWith("/apps/", StringComparison.Ordinal))); // the hash matched: no full fetch after a delta

        // The malformed instances are listed nowhere an app reads instances from.
        using var hosts = JsonDocument.Parse(await agent.Client.GetStringAsync("v1/services/stock/instances"));
        Assert.Empty(hosts.RootElement.EnumerateArray());
    }

    [Fact]
    public async Task ARegistryNeverApplied_KeepsTheAgentUnready_EvenWhenRegistrationSucceeded()
    {
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        eureka.Refuse = (method, path) => method == "GET" && path.EndsWith("/apps/", StringComparison.Ordinal) ? 500 : null;
        await using var agent = await RegisteredAgent.StartAsync(Environment(eureka), time);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", "host-a:orders:8080") is not null, "registered");
        await Eventually.TrueAsync(() => eureka.RequestsFor("GET", "/apps/").Any(r => r.StatusCode == 500), "the registry fetch failed");

        using (var ready = await agent.Client.GetAsync("v1/health/ready"))
        {
            using var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            var registry = report.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "registry");
            Assert.False(registry.GetProperty("ready").GetBoolean());
            Assert.Equal("no registry fetched yet", registry.GetProperty("detail").GetString());
        }

        // Once a registry applies, the agent is ready.
        eureka.Refuse = null;
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromMinutes(1), () => agent.Get<EurekaRegistry>().View.Origin == RegistryOrigin.Server, "the registry applied");
        using var readyNow = await agent.Client.GetAsync("v1/health/ready");
        Assert.Equal(HttpStatusCode.OK, readyNow.StatusCode);
    }

    [Fact]
    public async Task ASnapshotWithMalformedInstances_IsLoaded_WithoutThem()
    {
        var dataDir = RegisteredAgent.NewDataDir();
        Directory.CreateDirectory(dataDir);
        await File.WriteAllTextAsync(Path.Combine(dataDir, RegistrySnapshotStore.FileName), """
            {"applications":{"versions__delta":"1","apps__hashcode":"UP_3_","application":[{"name":"PAYMENTS","instance":[
              {"instanceId":"p1","app":"PAYMENTS","hostName":"pay-1","ipAddr":"10.0.1.1","status":"UP","port":{"$":9000,"@enabled":"true"}},
              {"instanceId":"p2","app":"PAYMENTS","hostName":"a b","ipAddr":"10.0.1.2","status":"UP","port":{"$":9000,"@enabled":"true"}},
              {"instanceId":"p3","app":"PAYMENTS","hostName":"pay-3","ipAddr":"10.0.1.3","status":"UP","port":{"$":99999,"@enabled":"true"}}]}]}}
            """);
        await using var eureka = await FakeEureka.StartAsync();
        await eureka.DownAsync();
        var logs = new LogCapture();

        await using var agent = await RegisteredAgent.StartAsync(Environment(eureka, dataDir), logs: logs);
        var registry = agent.Get<EurekaRegistry>();
        await Eventually.TrueAsync(() => registry.View.Origin == RegistryOrigin.Snapshot, "the snapshot was loaded");

        Assert.Equal("pay-1", Assert.Single(registry.View.GetInstances("payments")!).Host);
        // The lines follow the view's replacement: wait for them, then see there are exactly two.
        await Eventually.TrueAsync(() => logs.Entries.Count(e => e.Contains("[259]", StringComparison.Ordinal)) >= 2, "the left-out instances were logged");
        Assert.Equal(2, logs.Entries.Count(e => e.Contains("[259]", StringComparison.Ordinal)));
    }

    /// <summary>
    /// Random registries: malformed instances of every kind (ports, hosts, statuses, metadata, huge strings,
    /// every field of the wrong JSON type, instances and applications that are not objects) mixed with good
    /// ones. Reading never throws anything but a JsonException for a body that is not a registry, and every
    /// good instance is always there to call.
    /// </summary>
    [Fact]
    public void Fuzz_MalformedInstancesMixedWithGoodOnes_TheGoodOnesAlwaysApply()
    {
        var random = new Random(20260413);
        var rejected = 0;
        for (var round = 0; round < 300; round++)
        {
            var (json, good) = RegistryFuzzer.Registry(random);
            var applications = EurekaJsonReader.ReadApplications(Encoding.UTF8.GetBytes(json));
            var view = new RegistryView(applications, RegistryOrigin.Server, null, DateTimeOffset.UtcNow, preferIp: round % 2 == 0);
            rejected += view.Rejected.Count;
            foreach (var (app, id, port) in good)
            {
                var instances = view.GetInstances(app);
                Assert.True(instances is not null, $"round {round}: {app} is missing");
                Assert.Contains(instances, i => i.InstanceId == id && i.Port == port);
            }

            // The snapshot path: written and read back, the same instances apply.
            var again = new RegistryView(EurekaJsonReader.ReadApplications(EurekaJsonWriter.Applications(view.Applications)), RegistryOrigin.Snapshot, null, DateTimeOffset.UtcNow, preferIp: round % 2 == 0);
            Assert.Equal(view.InstanceCount, again.InstanceCount);
            Assert.Equal(view.HashCode, again.HashCode);
        }

        Assert.True(rejected > 300, $"the fuzzer produced only {rejected} malformed instances");
    }
}

/// <summary>Random Eureka registry bodies mixing good instances with malformed ones, for the reader's fuzz tests and the soak.</summary>
internal static class RegistryFuzzer
{
    private static readonly string[] BadHosts =
    [
        "bad host", "[", "]", "a%b", "x:1", "a\\b", "", " ", "a..b", "-", "host/path", "a@b", "fe80::1%eth0", "[::1", "a\u0000b",
        "a\r\nInjected: 1", "\u00e9t\u00e9 .example", "http://x", "a#b", "a?b", new string('h', 300), new string('x', 70 * 1024),
    ];

    private static readonly string[] BadPortJson =
    [
        "70000", "0", "-1", "65536", "4294967376", "1e20", "80.5", "\"x\"", "\"\"", "null", "true", "[]", "{}", "{\"$\":70000,\"@enabled\":\"true\"}",
        "{\"$\":\"abc\",\"@enabled\":\"true\"}", "{\"$\":-5}", "{\"$\":[1]}", "{\"@enabled\":[]}", "\"" + new string('9', 5000) + "\"",
    ];

    private static readonly string[] Junk =
    [
        "null", "true", "false", "0", "-1", "1.5e300", "\"\"", "[]", "{}", "[[[[[]]]]]", "{\"a\":{\"b\":{\"c\":[1,2,{}]}}}", "\"\\u0000\"",
        "\"" + new string('j', 20 * 1024) + "\"", "[\"x\",1,null]", "{\"$\":1}", "\"\\ud800\"", "{\"\\ud800\":1,\"$\":80,\"@class\":\"x\",\"name\":\"y\"}",
    ];

    /// <summary>A registry body and the good instances in it (app, instance id, port).</summary>
    public static (string Json, List<(string App, string Id, int Port)> Good) Registry(Random random)
    {
        var good = new List<(string, string, int)>();
        var apps = new List<string>();
        var appCount = random.Next(1, 6);
        for (var a = 0; a < appCount; a++)
        {
            var name = "APP" + a.ToString(CultureInfo.InvariantCulture);
            var instances = new List<string>();
            for (var i = random.Next(1, 8); i > 0; i--)
            {
                if (random.Next(3) == 0)
                {
                    var id = $"{name}-good-{instances.Count}";
                    var port = random.Next(1, 65536);
                    good.Add((name.ToLowerInvariant(), id, port));
                    instances.Add(GoodInstance(name, id, port));
                }
                else
                {
                    instances.Add(BadInstance(random, name, $"{name}-bad-{instances.Count}"));
                }
            }

            // Sometimes the list holds things that are not instances at all.
            if (random.Next(4) == 0)
            {
                instances.Add(Pick(random, Junk));
            }

            apps.Add($"{{\"name\":\"{name}\",\"instance\":[{string.Join(",", instances)}]}}");
        }

        if (random.Next(4) == 0)
        {
            apps.Add(Pick(random, Junk));
        }

        return ($"{{\"applications\":{{\"versions__delta\":{Pick(random, Junk)},\"apps__hashcode\":{Pick(random, Junk)},\"application\":[{string.Join(",", apps)}]}}}}", good);
    }

    public static string GoodInstance(string app, string id, int port) =>
        $"{{\"instanceId\":\"{id}\",\"app\":\"{app}\",\"hostName\":\"{id.ToLowerInvariant()}.example\",\"ipAddr\":\"10.1.{port % 250}.{port % 200}\",\"status\":\"UP\"," +
        $"\"port\":{{\"$\":{port},\"@enabled\":\"true\"}},\"securePort\":{{\"$\":443,\"@enabled\":\"false\"}},\"vipAddress\":\"{app.ToLowerInvariant()}\",\"metadata\":{{\"zone\":\"z1\"}}}}";

    /// <summary>An instance of <paramref name="app"/> with one to four things wrong with it (or a hostile but legal status or metadata, mixed in).</summary>
    public static string BadInstance(Random random, string app, string id)
    {
        var fields = new Dictionary<string, string>
        {
            ["instanceId"] = Json(id),
            ["app"] = Json(app),
            ["hostName"] = Json(id.ToLowerInvariant() + ".example"),
            ["ipAddr"] = Json("10.9.9.9"),
            ["status"] = Json("UP"),
            ["port"] = "{\"$\":8080,\"@enabled\":\"true\"}",
        };

        // At least one fault that makes the instance unusable, so the good ones are exactly the good ones.
        switch (random.Next(4))
        {
            case 0:
                fields["hostName"] = Json(Pick(random, BadHosts));
                fields["ipAddr"] = Json(Pick(random, BadHosts));
                break;
            case 1:
                fields["port"] = Pick(random, BadPortJson);
                break;
            case 2:
                fields["hostName"] = Pick(random, Junk);
                fields["ipAddr"] = Pick(random, Junk);
                break;
            default:
                fields["port"] = "{\"$\":8080,\"@enabled\":\"false\"}";
                fields["securePort"] = random.Next(2) == 0 ? Pick(random, BadPortJson) : "{\"$\":0,\"@enabled\":\"true\"}";
                break;
        }

        for (var extra = random.Next(4); extra > 0; extra--)
        {
            var field = Pick(random, ["status", "overriddenStatus", "metadata", "vipAddress", "secureVipAddress", "leaseInfo", "dataCenterInfo", "countryId",
                "lastDirtyTimestamp", "actionType", "instanceId", "app", "homePageUrl", "isCoordinatingDiscoveryServer"]);
            fields[field] = random.Next(3) switch
            {
                0 => Pick(random, Junk),
                1 => Json(Pick(random, ["PWNED", "up", "DOWN", "OUT_OF_SERVICE", "", new string('S', 10000), "\u0000", "UP\r\n"])),
                _ => "{\"zone\":" + Pick(random, Junk) + ",\"@class\":1,\"\\ud800\":\"v\",\"" + new string('k', random.Next(1, 3000)) + "\":\"v\"}",
            };
        }

        // The id and the app stay strings that name this instance, so a junk id cannot collide with a good one's.
        fields["instanceId"] = Json(id);
        fields["app"] = Json(app);
        // Now and then a field name no .NET string can hold (a lone surrogate), which only this instance may cost.
        var loneSurrogate = random.Next(8) == 0 ? ",\"\\udc00port\":1" : "";
        return "{" + string.Join(",", fields.Select(f => $"{Json(f.Key)}:{f.Value}")) + loneSurrogate + "}";
    }

    private static string Json(string text) => "\"" + JsonEncodedText.Encode(text) + "\"";

    private static string Pick(Random random, string[] values) => values[random.Next(values.Length)];
}

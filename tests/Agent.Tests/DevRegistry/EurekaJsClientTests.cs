using System.Text.Json;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.DevRegistry;

/// <summary>
/// A real Eureka client, eureka-js-client from npm (eureka-js/client.js), against the dev registry's
/// server logic: what a Node service written against a real eureka-server does must work unchanged.
/// </summary>
public sealed class EurekaJsClientTests
{
    private static readonly NodeScripts EurekaJs = new(Repository.PathOf("tests", "Agent.Tests", "DevRegistry", "eureka-js"), "eureka-js-client");

    [Fact]
    public async Task EurekaJsClient_RegistersWithoutInstanceId_Heartbeats_FetchesDeltas_ReadsItselfById_AndDeregisters()
    {
        await EurekaJs.EnsureInstalledAsync();
        await using var eureka = await FakeEureka.StartAsync();
        eureka.Seed(EurekaInstances.Create("orders", "host-a:orders:8080", "host-a", "10.0.0.5", 8080));

        var lines = await RunAsync(eureka.Port, () => string.Join("; ", eureka.Requests.TakeLast(8)));

        Assert.Equal(["started", "registry", "byId", "stopped"], lines.Select(l => l.GetProperty("step").GetString()));
        var registry = lines[1];
        var orders = Assert.Single(registry.GetProperty("orders").EnumerateArray());
        Assert.Equal("host-a:orders:8080", orders.GetProperty("instanceId").GetString());
        Assert.Equal(8080, orders.GetProperty("port").GetInt32());
        var self = Assert.Single(registry.GetProperty("self").EnumerateArray());
        Assert.Equal("js-host", self.GetProperty("hostName").GetString());
        Assert.Equal("UP", self.GetProperty("status").GetString());

        Assert.Equal(200, lines[2].GetProperty("status").GetInt32());
        Assert.Equal("JSSERVICE", lines[2].GetProperty("app").GetString());
        Assert.Equal(JsonValueKind.Null, lines[3].GetProperty("error").ValueKind);

        // On the server's side: registered, renewed and cancelled under the host name, the deltas asked for.
        Assert.Equal(204, Assert.Single(eureka.RequestsFor("POST", "/apps/jsservice")).StatusCode);
        Assert.True(eureka.RequestsFor("PUT", "/apps/jsservice/js-host").Count >= 2);
        Assert.All(eureka.RequestsFor("PUT", "/apps/jsservice/js-host"), r => Assert.Equal(200, r.StatusCode));
        Assert.Contains(eureka.RequestsFor("GET", "/apps/delta"), r => r.StatusCode == 200);
        Assert.Equal(200, Assert.Single(eureka.RequestsFor("DELETE")).StatusCode);
        Assert.Null(eureka.Instance("JSSERVICE", "js-host"));
    }

    private static async Task<List<JsonElement>> RunAsync(int port, Func<string> serverSide)
    {
        var (exitCode, stdout, stderr) = await EurekaJs.NodeAsync(["client.js", port.ToString(System.Globalization.CultureInfo.InvariantCulture)], "eureka-js-client",
            () => "the server saw: " + serverSide());
        Assert.True(exitCode == 0, $"eureka-js-client exited {exitCode}: {stdout} {stderr}");
        return [.. stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Sidecar.Forwarding.Tcp;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Tcp;

/// <summary>
/// The TCP listeners on the status page (<c>GET /</c>, JSON and HTML, docs/observability.md#status-page) and in the
/// actuator's metrics view (docs/actuator.md#metrics): listener, service, open connections, bytes each way, connect failures.
/// </summary>
public sealed class TcpStatusTests
{
    [Fact]
    public async Task TheStatusPage_AndTheActuator_ShowEachListener_ItsConnections_Bytes_AndConnectFailures()
    {
        using var instance = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        instance.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        instance.Listen();
        var served = Task.Run(async () =>
        {
            using var peer = await instance.AcceptAsync();
            var buffer = new byte[64];
            var read = await peer.ReceiveAsync(buffer);
            await peer.SendAsync(buffer.AsMemory(0, read)); // holds the connection open: the test closes it
            await peer.ReceiveAsync(buffer);
        });
        var dead = LoopbackServer.RefusingPort();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = "",
            ["ROUTES"] = $"blob=tcp://127.0.0.1:{((IPEndPoint)instance.LocalEndPoint!).Port},gone=tcp://127.0.0.1:{dead}",
            ["SIDECAR_TCP_LISTENERS"] = "0=blob,0=gone",
            ["Forwarding__Services__gone__Retries"] = "0",
            ["SIDECAR_ACTUATOR_EXPOSE"] = "metrics",
        });
        var blob = TcpListenerTests.ListenerPort(agent, "blob");
        var gone = TcpListenerTests.ListenerPort(agent, "gone");

        using var open = await TcpListenerTests.ConnectAsync(blob);
        await open.SendAsync("12345678"u8.ToArray());
        var echoed = new byte[8];
        Assert.Equal(8, await open.ReceiveAsync(echoed));
        await Assert.ThrowsAsync<SocketException>(async () =>
        {
            using var refused = await TcpListenerTests.ConnectAsync(gone);
            await TcpListenerTests.ReadToEndAsync(refused, TimeSpan.FromSeconds(10));
        });
        await Eventually.TrueAsync(() => agent.Get<TcpListeners>().OpenConnections == 1, "the refused connection ended");

        using var json = JsonDocument.Parse(await agent.Client.GetStringAsync("/"));
        var listeners = json.RootElement.GetProperty("tcpListeners").EnumerateArray().ToDictionary(l => l.GetProperty("service").GetString()!);
        var b = listeners["blob"];
        Assert.Equal(blob, b.GetProperty("port").GetInt32());
        Assert.Equal($"127.0.0.1:{blob}", b.GetProperty("address").GetString());
        Assert.Equal(1, b.GetProperty("open").GetInt64());
        Assert.Equal(1, b.GetProperty("connections").GetInt64());
        Assert.Equal(8, b.GetProperty("bytesToInstance").GetInt64());
        Assert.Equal(8, b.GetProperty("bytesToApp").GetInt64());
        Assert.Equal(0, b.GetProperty("connectFailures").GetProperty("refused").GetInt64());
        var g = listeners["gone"];
        Assert.Equal(0, g.GetProperty("open").GetInt64());
        Assert.Equal(1, g.GetProperty("connectFailures").GetProperty("refused").GetInt64());

        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.TryAddWithoutValidation("Accept", "text/html");
        var html = await (await agent.Client.SendAsync(request)).Content.ReadAsStringAsync();
        Assert.Contains("<section id=\"tcp\" class=\"wide\"><h2>TCP listeners (2)</h2>", html, StringComparison.Ordinal);
        Assert.Matches($"<tr data-listener=\"{blob}\" data-tcp-service=\"blob\"><td><code>127.0.0.1:{blob}</code></td><td>blob</td><td data-open>1</td><td>1</td><td>8 B</td><td>8 B</td><td data-failures=\"0\">0</td></tr>", html);
        Assert.Matches($"<tr data-listener=\"{gone}\" data-tcp-service=\"gone\">.*?<td data-failures=\"1\"><span class=\"badge bad\">1</span> <span class=\"mute\"> refused 1</span>", html);

        // sidecar_tcp_bytes_total read back as Micrometer names it: the unit suffix is the base unit.
        using var bytes = JsonDocument.Parse(await agent.Client.GetStringAsync("/actuator/metrics/sidecar.tcp?tag=service:blob&tag=direction:app_to_instance"));
        Assert.Equal("bytes", bytes.RootElement.GetProperty("baseUnit").GetString());
        Assert.Equal(8, bytes.RootElement.GetProperty("measurements")[0].GetProperty("value").GetDouble());
        using var active = JsonDocument.Parse(await agent.Client.GetStringAsync("/actuator/metrics/sidecar.tcp.connections.active?tag=service:blob"));
        Assert.Equal(1, active.RootElement.GetProperty("measurements")[0].GetProperty("value").GetDouble());

        open.Shutdown(SocketShutdown.Both);
        await served;
    }
}

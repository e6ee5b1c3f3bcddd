using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Sidecar.Forwarding.Tcp;
using Sidecar.Tests.Observability;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Tcp;

/// <summary>
/// TCP listeners (docs/forwarding.md#tcp-listeners) with real peers: redis-server and redis-cli, PostgreSQL and psql,
/// started by the tests; a raw socket where the bytes themselves are the point (half-close, a large transfer).
/// </summary>
public sealed class TcpListenerTests
{
    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    [RedisFact]
    public async Task RedisCli_ThroughAListener_WithOneInstanceDead_IsRetriedOnTheLiveOne_AndTheDeadOneEjected()
    {
        await using var redis = await RedisServer.StartAsync();
        var dead = LoopbackServer.RefusingPort();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = "",
            ["ROUTES"] = $"redis=tcp://127.0.0.1:{dead};tcp://127.0.0.1:{redis.Port}",
            ["SIDECAR_TCP_LISTENERS"] = "0=redis",
            ["Forwarding__Services__redis__EjectionFailures"] = "2",
        });
        var listener = ListenerPort(agent, "redis");

        Assert.Equal((0, "OK\n"), await RedisServer.CliAsync(listener, "set", "greeting", "hello"));
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal((0, "PONG\n"), await RedisServer.CliAsync(listener, "ping"));
        }

        Assert.Equal((0, "hello\n"), await RedisServer.CliAsync(listener, "get", "greeting"));
        var scrape = await Scrape.TakeAsync(agent);
        var labels = new[] { ("listener", P(listener)), ("service", "redis") };
        Assert.Equal(10, scrape.Value("sidecar_tcp_connections_total", labels));
        Assert.Equal(2, scrape.Value("sidecar_tcp_connect_failures_total", [.. labels, ("reason", "refused")])); // then ejected: never tried again
        Assert.Equal(1, scrape.Value("sidecar_forward_ejections_total", ("service", "redis")));
        Assert.Equal(1, scrape.Value("sidecar_forward_instances_ejected", ("service", "redis")));
        Assert.True(scrape.Value("sidecar_tcp_bytes_total", [.. labels, ("direction", "app_to_instance")]) > 100);
        Assert.True(scrape.Value("sidecar_tcp_bytes_total", [.. labels, ("direction", "instance_to_app")]) >= 10 * 5);
        await Eventually.TrueAsync(() => agent.Get<TcpListeners>().OpenConnections == 0, "every connection ended with redis-cli");
    }

    [PostgresFact]
    public async Task Psql_ThroughAListener_WithOneInstanceDead_IsRetriedOnTheLiveOne_AndTheDeadOneEjected()
    {
        await using var postgres = await PostgresServer.StartAsync();
        var dead = LoopbackServer.RefusingPort();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = "",
            ["ROUTES"] = $"postgres=tcp://127.0.0.1:{dead};tcp://127.0.0.1:{postgres.Port}",
            ["SIDECAR_TCP_LISTENERS"] = "0=postgres",
            ["Forwarding__Services__postgres__EjectionFailures"] = "2",
        });
        var listener = ListenerPort(agent, "postgres");

        Assert.Equal((0, "CREATE TABLE\nINSERT 0 2\n"), await PostgresServer.PsqlAsync(listener, "create table t(x int); insert into t values (1), (2);"));
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal((0, "3\n"), await PostgresServer.PsqlAsync(listener, "select sum(x) from t"));
        }

        var scrape = await Scrape.TakeAsync(agent);
        var labels = new[] { ("listener", P(listener)), ("service", "postgres") };
        Assert.Equal(6, scrape.Value("sidecar_tcp_connections_total", labels));
        Assert.Equal(2, scrape.Value("sidecar_tcp_connect_failures_total", [.. labels, ("reason", "refused")]));
        Assert.Equal(1, scrape.Value("sidecar_forward_ejections_total", ("service", "postgres")));
    }

    [Fact]
    public async Task BytesFlowBothWays_AndAHalfCloseIsPassedOn_EachWay()
    {
        // The instance reads until the app's FIN, then answers with what it counted and closes: a relay
        // that did not pass the half-close on would leave both sides waiting.
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        server.Listen();
        var serverPort = ((IPEndPoint)server.LocalEndPoint!).Port;
        var served = Task.Run(async () =>
        {
            using var peer = await server.AcceptAsync();
            var buffer = new byte[65536];
            long total = 0;
            int read;
            while ((read = await peer.ReceiveAsync(buffer)) > 0)
            {
                total += read;
            }

            await peer.SendAsync(Encoding.ASCII.GetBytes($"got {total}"));
            peer.Shutdown(SocketShutdown.Send);
        });

        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = "",
            ["ROUTES"] = $"blob=tcp://127.0.0.1:{serverPort}",
            ["SIDECAR_TCP_LISTENERS"] = "0=blob",
        });
        var listener = ListenerPort(agent, "blob");

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, listener);
        var payload = new byte[5 * 1024 * 1024 + 7];
        Random.Shared.NextBytes(payload);
        await client.SendAsync(payload);
        client.Shutdown(SocketShutdown.Send);
        var answer = await ReadToEndAsync(client, TimeSpan.FromSeconds(20));

        Assert.Equal($"got {payload.Length}", answer);
        await served;
        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(payload.Length, scrape.Value("sidecar_tcp_bytes_total", ("listener", P(listener)), ("service", "blob"), ("direction", "app_to_instance")));
        Assert.Equal(answer.Length, scrape.Value("sidecar_tcp_bytes_total", ("listener", P(listener)), ("service", "blob"), ("direction", "instance_to_app")));
    }

    [RedisFact]
    public async Task AnIdleConnection_IsClosedAfterTheIdleTimeout_ABusyOneIsNot()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = "",
            ["ROUTES"] = $"redis=tcp://127.0.0.1:{redis.Port}",
            ["SIDECAR_TCP_LISTENERS"] = "0=redis",
            ["Forwarding__TcpIdleTimeout"] = "600ms",
        });
        var listener = ListenerPort(agent, "redis");

        using var idle = await ConnectAsync(listener);
        using var busy = await ConnectAsync(listener);
        Assert.Equal("+PONG\r\n", await PingAsync(idle));
        var started = DateTime.UtcNow;
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal("+PONG\r\n", await PingAsync(busy)); // 1.2 s of traffic every 100 ms: never idle
            await Task.Delay(100);
        }

        Assert.Equal("", await ReadToEndAsync(idle, TimeSpan.FromSeconds(5))); // closed by the agent (a FIN, not a reset)
        Assert.Equal("+PONG\r\n", await PingAsync(busy));
        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(1, scrape.Value("sidecar_tcp_connections_closed_total", ("listener", P(listener)), ("service", "redis"), ("reason", "idle")));
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(600));
    }

    [Fact]
    public async Task AServiceNobodyKnows_ResetsTheConnection_AndCountsNoInstance()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = "",
            ["SIDECAR_TCP_LISTENERS"] = "0=nowhere",
        });
        var listener = ListenerPort(agent, "nowhere");

        var ex = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            // The reset may come before the connect is reported done, or at the send, or at the read.
            using var client = await ConnectAsync(listener);
            await client.SendAsync("PING\r\n"u8.ToArray());
            await ReadToEndAsync(client, TimeSpan.FromSeconds(10));
        });

        Assert.Equal(SocketError.ConnectionReset, ex.SocketErrorCode);
        var labels = new[] { ("listener", P(listener)), ("service", "nowhere") };
        await Eventually.TrueAsync(async () => (await Scrape.TakeAsync(agent)).Value("sidecar_tcp_connections_active", labels) == 0, "the connection ended");
        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(1, scrape.Value("sidecar_tcp_connect_failures_total", [.. labels, ("reason", "no_instance")]));
        Assert.Equal(1, scrape.Value("sidecar_tcp_connections_total", labels));
    }

    /// <summary>The port a listener set to 0 bound (the options carry it from the start on).</summary>
    internal static int ListenerPort(AgentHarness agent, string service) =>
        agent.Get<Sidecar.Forwarding.ForwardingOptions>().TcpListeners.Single(l => l.Service == service).Port;

    internal static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        return socket;
    }

    /// <summary>Redis's inline PING and its answer.</summary>
    internal static async Task<string> PingAsync(Socket socket)
    {
        await socket.SendAsync("PING\r\n"u8.ToArray());
        var buffer = new byte[64];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.ASCII.GetString(buffer, 0, read);
    }

    /// <summary>Everything until the peer's FIN (a reset throws).</summary>
    internal static async Task<string> ReadToEndAsync(Socket socket, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        var text = new StringBuilder();
        var buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
        {
            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        return text.ToString();
    }
}

using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Tcp;

/// <summary>The agent as a process with TCP workloads: bad input (exit code 2, one line), the drain on SIGTERM, a TCP health check, <c>agent run -- redis-server</c>.</summary>
public sealed class TcpProcessTests
{
    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static Dictionary<string, string> Env(params (string Key, string Value)[] settings)
    {
        var env = new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0", // the agent picks its API port; these tests do not call it
            ["APP_HEALTH_URL"] = "",
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
        };
        foreach (var (key, value) in settings)
        {
            env[key] = value;
        }

        return env;
    }

    [Fact]
    public async Task AListenerPortAlreadyTaken_IsOneLine_AndExitCode2()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var port = ((IPEndPoint)taken.LocalEndPoint!).Port;

        await using var agent = AgentProcess.Start(Env(("ROUTES", "redis=tcp://127.0.0.1:6379"), ("SIDECAR_TCP_LISTENERS", $"{port}=redis")));

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal($"agent: cannot listen on 127.0.0.1:{port} (SIDECAR_TCP_LISTENERS {port}=redis): the port is already in use", agent.Stderr.TrimEnd());
        Assert.DoesNotContain("Exception", agent.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ROUTES", "redis=tcp://redis", "agent: invalid configuration: ROUTES (Forwarding:Routes): 'tcp://redis' (service 'redis') is not tcp://host:port (a host and a port, nothing else)")]
    [InlineData("SIDECAR_TCP_LISTENERS", "16379:redis", "agent: invalid configuration: SIDECAR_TCP_LISTENERS (Forwarding:TcpListeners): '16379:redis' is not port=service (e.g. 15432=postgres)")]
    [InlineData("SIDECAR_TCP_LISTENERS", "16379=redis,16379=cache", "agent: invalid configuration: SIDECAR_TCP_LISTENERS (Forwarding:TcpListeners): port 16379 (cache) is listed twice")]
    [InlineData("SIDECAR_TCP_LISTENERS", "16379=re dis", "agent: invalid configuration: SIDECAR_TCP_LISTENERS (Forwarding:TcpListeners): 're dis' in '16379=re dis' is not a service name (letters, digits, '-', '_' and '.')")]
    [InlineData("APP_HEALTH_URL", "tcp://127.0.0.1:5432/db", "agent: invalid configuration: APP_HEALTH_URL (App:Health:Url): 'tcp://127.0.0.1:5432/db' is not tcp://host:port (a host and a port, nothing else)")]
    public async Task MalformedTcpSettings_AreOneLine_AndExitCode2(string variable, string value, string line)
    {
        await using var agent = AgentProcess.Start(Env((variable, value)));

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(line, agent.Stderr.TrimEnd());
    }

    [Fact]
    public async Task AListenerOnTheApiPort_IsOneLine_AndExitCode2()
    {
        // The configuration is refused before anything is bound: the port is never listened on.
        await using var agent = AgentProcess.Start(Env(("SIDECAR_PORT", "18078"), ("SIDECAR_TCP_LISTENERS", "18078=redis")));

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("agent: invalid configuration: SIDECAR_TCP_LISTENERS (Forwarding:TcpListeners): port 18078 (redis) is the API port (SIDECAR_PORT)", agent.Stderr.TrimEnd());
    }

    [Fact]
    public async Task TwoListenersAtPortZero_EachBindAFreePort_NamedInTheStartUpLine_EvenAtLogLevelWarning()
    {
        using var a = Greeter("a");
        using var b = Greeter("b");
        await using var agent = AgentProcess.Start(Env(
            ("ROUTES", $"a=tcp://127.0.0.1:{((IPEndPoint)a.LocalEndPoint!).Port},b=tcp://127.0.0.1:{((IPEndPoint)b.LocalEndPoint!).Port}"),
            ("SIDECAR_TCP_LISTENERS", "0=a,0=b"), ("SIDECAR_LOG_LEVEL", "warning")));

        var listeners = await agent.WaitForTcpListenersAsync();

        Assert.Equal(["a", "b"], listeners.Select(l => l.Service));
        Assert.NotEqual(listeners[0].Port, listeners[1].Port);
        Assert.All(listeners, l => Assert.NotEqual(0, l.Port));
        foreach (var (port, service) in listeners)
        {
            using var client = await TcpListenerTests.ConnectAsync(port);
            Assert.Equal(service, await TcpListenerTests.ReadToEndAsync(client, TimeSpan.FromSeconds(10)));
        }
    }

    // An instance that writes its name on each connection, then closes it.
    private static Socket Greeter(string name)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        server.Listen();
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var peer = await server.AcceptAsync();
                    await peer.SendAsync(System.Text.Encoding.ASCII.GetBytes(name));
                    peer.Shutdown(SocketShutdown.Both);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // the test ended
            }
        });
        return server;
    }

    [RedisFact]
    public async Task OnSigterm_TheListenerStopsAccepting_OpenConnectionsGetTheDrain_ThenAreClosed()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var agent = AgentProcess.Start(Env(
            ("ROUTES", $"redis=tcp://127.0.0.1:{redis.Port}"), ("SIDECAR_TCP_LISTENERS", "0=redis"), ("SIDECAR_DRAIN", "2s")));
        var listener = Assert.Single(await agent.WaitForTcpListenersAsync()).Port;
        using var open = await TcpListenerTests.ConnectAsync(listener);
        Assert.Equal("+PONG\r\n", await TcpListenerTests.PingAsync(open));

        agent.Terminate();
        await agent.WaitForOutputAsync("TCP listeners stopped accepting; 1 connection(s) open");
        var stopped = DateTime.UtcNow;
        Assert.False(await Tools.AcceptsAsync(listener), "a new connection is refused once the drain began");
        await Task.Delay(500);
        Assert.Equal("+PONG\r\n", await TcpListenerTests.PingAsync(open)); // the open one still works
        Assert.Equal("", await TcpListenerTests.ReadToEndAsync(open, TimeSpan.FromSeconds(15))); // then the agent ends it

        Assert.InRange(DateTime.UtcNow - stopped, TimeSpan.FromSeconds(1.2), TimeSpan.FromSeconds(10));
        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("Closed 1 TCP connection(s) still open at the end of the drain", agent.Stdout, StringComparison.Ordinal);
    }

    [RedisFact]
    public async Task ATcpHealthCheck_FollowsTheProcess_DownInEurekaWhenRedisStops_UpWhenItStarts()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var eureka = await FakeEureka.StartAsync();
        var env = RegisteredAgent.Environment(eureka);
        env["APP_NAME"] = "redis";
        env["APP_PORT"] = P(redis.Port);
        env["APP_HEALTH_URL"] = $"tcp://127.0.0.1:{redis.Port}";
        env["APP_HEALTH_INTERVAL"] = "200ms";
        env["APP_HEALTH_FAILURE_THRESHOLD"] = "1";
        env["Eureka__StatusUpdateBurst"] = "10";
        await using var agent = await AgentHarness.StartAsync(env);
        var id = $"host-a:redis:{redis.Port}";
        await Eventually.TrueAsync(() => eureka.Instance("REDIS", id)?.Status == InstanceStatus.Up, "redis registered UP");
        Assert.Equal($"tcp://127.0.0.1:{redis.Port}", agent.Get<AppHealthMonitor>().ProbeUrl);

        await redis.StopAsync();
        await Eventually.TrueAsync(() => eureka.Instance("REDIS", id)?.Status == InstanceStatus.Down, "DOWN reached Eureka once redis stopped");
        Assert.Equal("connection refused", agent.Get<AppHealthMonitor>().Current.LastResult?.Detail);

        await redis.StartAsync();
        await Eventually.TrueAsync(() => eureka.Instance("REDIS", id)?.Status == InstanceStatus.Up, "UP again once redis is back");
    }

    [RedisFact]
    public async Task AgentRun_RedisServer_RegistersRedis_WithATcpHealthCheck_AndCancelsOnSigterm()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var port = Tools.FreePort();
        var env = Env(
            ("APP_NAME", "redis"), ("APP_PORT", P(port)), ("APP_HEALTH_URL", $"tcp://127.0.0.1:{port}"), ("APP_HEALTH_INTERVAL", "200ms"),
            ("APP_IP", "127.0.0.1"), ("EUREKA_URLS", eureka.ServiceUrl.AbsoluteUri), ("EUREKA_INSTANCE_ID", "redis-1"));
        await using var agent = AgentProcess.Start(env, ["run", "--", RedisServer.ServerPath!, .. RedisServer.Arguments(port)]);

        await Eventually.TrueAsync(() => eureka.Instance("REDIS", "redis-1")?.Status == InstanceStatus.Up, "redis-server registered UP by its agent", TimeSpan.FromSeconds(30));
        var instance = eureka.Instance("REDIS", "redis-1")!;
        Assert.Equal(port, instance.Port);
        Assert.Equal((0, "PONG\n"), await RedisServer.CliAsync(port, "ping"));

        agent.Terminate();
        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30))); // redis-server's own exit code on SIGTERM
        Assert.Null(eureka.Instance("REDIS", "redis-1"));
        Assert.False(await Tools.AcceptsAsync(port), "redis-server stopped with its agent");
    }
}

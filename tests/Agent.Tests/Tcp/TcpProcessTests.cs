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
    [InlineData("APP_HEALTH_URL", "tcp://127.0.0.1:5432/db", "agent: invalid configuration: APP_HEALTH_URL (App:Health:Url): 'tcp://127.0.0.1:5432/db' is not tcp://host:port (a host and a port, nothing else)")]
    public async Task MalformedTcpSettings_AreOneLine_AndExitCode2(string variable, string value, string line)
    {
        await using var agent = AgentProcess.Start(Env((variable, value)));

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(line, agent.Stderr.TrimEnd());
    }

    [RedisFact]
    public async Task OnSigterm_TheListenerStopsAccepting_OpenConnectionsGetTheDrain_ThenAreClosed()
    {
        await using var redis = await RedisServer.StartAsync();
        var listener = Tools.FreePort();
        await using var agent = AgentProcess.Start(Env(
            ("ROUTES", $"redis=tcp://127.0.0.1:{redis.Port}"), ("SIDECAR_TCP_LISTENERS", $"{listener}=redis"), ("SIDECAR_DRAIN", "2s")));
        await agent.WaitForOutputAsync("listening on");
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

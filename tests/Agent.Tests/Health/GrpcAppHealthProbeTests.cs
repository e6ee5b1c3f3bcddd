using System.Globalization;
using Sidecar.Eureka;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Health;

/// <summary>
/// <c>APP_HEALTH_URL=grpc://...</c> against a real grpc-js server (docs/app-health.md#grpc-checks): what each answer
/// of grpc.health.v1.Health/Check means, and the status following the server in Eureka.
/// </summary>
public sealed class GrpcAppHealthProbeTests
{
    private static GrpcAppHealthProbe Probe(int port, string service = "") =>
        new(new AppHealthOptions { Url = new Uri($"grpc://127.0.0.1:{port}/{service}"), Timeout = TimeSpan.FromSeconds(10) }, TimeProvider.System);

    [Theory]
    [InlineData("SERVING", true, "SERVING")]
    [InlineData("NOT_SERVING", false, "NOT_SERVING")]
    [InlineData("UNKNOWN", false, "UNKNOWN")]
    public async Task TheServersStatus_IsTheProbesResult(string status, bool healthy, string detail)
    {
        await using var server = await GrpcHealthServer.StartAsync(new() { [""] = status });
        using var probe = Probe(server.Port);

        var result = await probe.ProbeAsync(default);

        Assert.Equal((healthy, detail, 200), (result.Healthy, result.Detail, result.StatusCode));
    }

    [Theory]
    [InlineData("orders", true, "SERVING")]
    [InlineData("billing", false, "NOT_SERVING")]
    [InlineData("legacy", false, "SERVICE_UNKNOWN")]
    [InlineData("nobody", false, "NOT_FOUND: the health service knows no service 'nobody' (unknown service nobody)")]
    public async Task APath_AsksAboutOneService(string service, bool healthy, string detail)
    {
        await using var server = await GrpcHealthServer.StartAsync(new() { [""] = "SERVING", ["orders"] = "SERVING", ["billing"] = "NOT_SERVING", ["legacy"] = "SERVICE_UNKNOWN" });
        using var probe = Probe(server.Port, service);

        var result = await probe.ProbeAsync(default);

        Assert.Equal((healthy, detail), (result.Healthy, result.Detail));
    }

    [Fact]
    public async Task AServerWithoutTheHealthService_IsDown_SayingSo()
    {
        await using var server = await GrpcHealthServer.StartAsync(null);
        using var probe = Probe(server.Port);

        var result = await probe.ProbeAsync(default);

        Assert.False(result.Healthy);
        Assert.StartsWith("UNIMPLEMENTED: the server has no grpc.health.v1.Health service", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AServerThatIsGone_IsAFailure_ConnectionRefused()
    {
        await using var server = await GrpcHealthServer.StartAsync(new() { [""] = "SERVING" });
        using var probe = Probe(server.Port);
        Assert.True((await probe.ProbeAsync(default)).Healthy);

        await server.StopAsync();
        var result = await probe.ProbeAsync(default);

        // The probe right after the stop may still find the pooled connection, dying ("connection broken"); the next
        // ones find the port closed.
        Assert.False(result.Healthy);
        Assert.Contains(result.Detail, new[] { "connection refused", "connection broken" });
        await Eventually.TrueAsync(async () => (await probe.ProbeAsync(default)) is { Healthy: false, Detail: "connection refused" }, "the probe says the connection is refused");
    }

    [Fact]
    public async Task Grpcs_SpeaksTls_SoAPlaintextServerIsAFailure()
    {
        await using var server = await GrpcHealthServer.StartAsync(new() { [""] = "SERVING" });
        using var probe = new GrpcAppHealthProbe(new AppHealthOptions { Url = new Uri($"grpcs://127.0.0.1:{server.Port}"), Timeout = TimeSpan.FromSeconds(10) }, TimeProvider.System);

        var result = await probe.ProbeAsync(default);

        Assert.False(result.Healthy);
        Assert.StartsWith("TLS handshake failed", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnHttp1OnlyPort_IsAFailure_WithAHint()
    {
        await using var app = await LoopbackServer.StartAsync(_ => Task.CompletedTask);
        using var probe = Probe(app.BaseUri.Port);

        var result = await probe.ProbeAsync(default);

        Assert.False(result.Healthy);
        Assert.EndsWith("(does the port speak HTTP/2, as gRPC does?)", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AGrpcUrlWithoutAPort_StopsTheAgent_OneLine_ExitCode2()
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0",
            ["APP_HEALTH_URL"] = "grpc://127.0.0.1/orders",
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
        });

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("agent: invalid configuration: APP_HEALTH_URL (App:Health:Url): 'grpc://127.0.0.1/orders' is not grpc://host:port or grpc://host:port/service (grpcs:// for TLS; nothing else)", agent.Stderr.TrimEnd());
    }

    [Fact]
    public async Task TheStatus_FollowsTheServer_InEureka()
    {
        await using var server = await GrpcHealthServer.StartAsync(new() { [""] = "SERVING", ["orders"] = "SERVING" });
        await using var eureka = await FakeEureka.StartAsync();
        var port = server.Port.ToString(CultureInfo.InvariantCulture);
        var env = RegisteredAgent.Environment(eureka);
        env["APP_PORT"] = port;
        env["APP_HEALTH_URL"] = $"grpc://127.0.0.1:{port}/orders";
        env["APP_HEALTH_INTERVAL"] = "200ms";
        env["APP_HEALTH_FAILURE_THRESHOLD"] = "1";
        env["Eureka__StatusUpdateBurst"] = "10";
        await using var agent = await AgentHarness.StartAsync(env);
        var id = $"host-a:orders:{port}";
        var monitor = agent.Get<AppHealthMonitor>();
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", id)?.Status == InstanceStatus.Up, "registered UP while the service is SERVING");
        Assert.Equal($"grpc://127.0.0.1:{port}/orders", monitor.ProbeUrl);

        await server.SetAsync("orders", "NOT_SERVING");
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", id)?.Status == InstanceStatus.Down, "DOWN reached Eureka once the service was NOT_SERVING");
        Assert.Equal("NOT_SERVING", monitor.Current.LastResult?.Detail);

        await server.SetAsync("orders", "SERVING");
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", id)?.Status == InstanceStatus.Up, "UP again once SERVING");

        await server.StopAsync();
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", id)?.Status == InstanceStatus.Down, "DOWN once the server stopped");
        Assert.Equal("connection refused", monitor.Current.LastResult?.Detail);

        await server.StartAsync();
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", id)?.Status == InstanceStatus.Up, "UP once it is back");
    }
}

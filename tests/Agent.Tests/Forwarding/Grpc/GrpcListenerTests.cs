using Microsoft.Extensions.Configuration;
using System.Globalization;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding.Grpc;

/// <summary>The gRPC listener (<c>SIDECAR_GRPC_PORT</c>, docs/grpc.md#the-grpc-listener) in the real process: its port, and bad values.</summary>
public sealed class GrpcListenerTests
{
    [Theory]
    [InlineData("abc", "agent: invalid configuration: SIDECAR_GRPC_PORT (Sidecar:GrpcPort): 'abc' is not a port (1-65535)")]
    [InlineData("70000", "agent: invalid configuration: SIDECAR_GRPC_PORT (Sidecar:GrpcPort): '70000' is not a port (1-65535)")]
    [InlineData("8078", "agent: invalid configuration: SIDECAR_GRPC_PORT (Sidecar:GrpcPort): '8078' is already the API port (SIDECAR_PORT)")]
    public async Task ABadOrTakenPort_ExitsWithCode2AndOneLine(string value, string expected)
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string> { ["SIDECAR_GRPC_PORT"] = value });

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(expected, agent.Stderr.TrimEnd());
    }

    [Fact]
    public async Task APortInUse_ExitsWithCode2AndOneLine()
    {
        await using var busy = await LoopbackServer.StartAsync(_ => Task.CompletedTask);
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_GRPC_PORT"] = busy.Port.ToString(CultureInfo.InvariantCulture),
        });

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var line = Assert.Single(agent.Stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("agent: cannot listen: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PortZero_IsAFreePort_NamedInTheStartupLine_AndItForwards()
    {
        await using var echo = await GrpcPeer.ServerAsync("a");
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_GRPC_PORT"] = "0",
            ["ROUTES"] = $"echo={echo.Url}",
        });

        var listeners = await agent.WaitForListenersAsync();

        Assert.Equal(2, listeners.Count);
        Assert.NotEqual(listeners[0].Port, listeners[1].Port);
        var lines = await GrpcPeers.ClientAsync(listeners[1], "echo", "authority", "unary");
        Assert.Equal(0, GrpcPeers.Status(lines).Code);
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("SIDECAR_PORT", "9200", "SIDECAR_GRPC_PORT (Sidecar:GrpcPort): '9200' is already the API port (SIDECAR_PORT)")]
    [InlineData("SIDECAR_PUBLIC_HEALTH_PORT", "9200", "SIDECAR_GRPC_PORT (Sidecar:GrpcPort): '9200' is already the public health port (SIDECAR_PUBLIC_HEALTH_PORT)")]
    [InlineData("SIDECAR_METRICS_PORT", "9200", "SIDECAR_GRPC_PORT (Sidecar:GrpcPort): '9200' is already the metrics port (SIDECAR_METRICS_PORT)")]
    [InlineData("APP_PORT", "9200", "APP_PORT (App:Port): '9200' is the agent's gRPC port (SIDECAR_GRPC_PORT): the agent would probe itself")]
    public void AGrpcPortTakenByAnotherListener_IsAConfigurationError(string key, string value, string expected)
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .Add(new Sidecar.Configuration.AgentVariablesConfigurationSource(new System.Collections.Hashtable { ["SIDECAR_GRPC_PORT"] = "9200", [key] = value }))
            .Build();

        var error = Assert.Throws<Sidecar.Configuration.InvalidConfigurationException>(() => Sidecar.Hosting.AgentOptions.Load(configuration));

        Assert.Contains(expected, error.Errors);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void ByDefault_ThereIsNoGrpcListener()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .Add(new Sidecar.Configuration.AgentVariablesConfigurationSource(new System.Collections.Hashtable()))
            .Build();

        Assert.Null(Sidecar.Hosting.AgentOptions.Load(configuration).Sidecar.GrpcPort);
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("UNAVAILABLE, resource_exhausted", new[] { 8, 14 })]
    [InlineData("14", new[] { 14 })]
    [InlineData("", new int[0])]
    public void GrpcRetryOn_TakesNamesAndNumbers(string value, int[] expected)
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection([new("Forwarding:Services:echo:GrpcRetryOn", value)])
            .Build();

        var options = Sidecar.Hosting.AgentOptions.Load(configuration).Forwarding;

        Assert.Equal(expected, options.PolicyFor("echo").GrpcRetryOn.Order());
        Assert.Empty(options.Defaults.GrpcRetryOn);
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("OK", "Forwarding:GrpcRetryOn: 'OK' is not a gRPC status other than OK (a name such as UNAVAILABLE, or 1-16)")]
    [InlineData("17", "Forwarding:GrpcRetryOn: '17' is not a gRPC status other than OK (a name such as UNAVAILABLE, or 1-16)")]
    [InlineData("UNAVAILBLE", "Forwarding:GrpcRetryOn: 'UNAVAILBLE' is not a gRPC status other than OK (a name such as UNAVAILABLE, or 1-16)")]
    public void GrpcRetryOn_RefusesWhatIsNotAStatus(string value, string expected)
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection([new("Forwarding:GrpcRetryOn", value)])
            .Build();

        var error = Assert.Throws<Sidecar.Configuration.InvalidConfigurationException>(() => Sidecar.Hosting.AgentOptions.Load(configuration));

        Assert.Contains(expected, error.Errors);
    }
}

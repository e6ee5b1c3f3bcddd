using System.Collections;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Sidecar.Configuration;
using Sidecar.Forwarding.Tcp;

namespace Sidecar.Tests.Tcp;

/// <summary>The TCP settings (docs/forwarding.md#tcp-listeners, docs/app-health.md#tcp-checks): what is accepted, and the one line for what is not.</summary>
[Trait("Category", "Unit")]
public sealed class TcpOptionsTests
{
    private static AgentOptions Load(Dictionary<string, string?> environment)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(environment.Where(p => p.Key.Contains("__", StringComparison.Ordinal))
                .Select(p => new KeyValuePair<string, string?>(p.Key.Replace("__", ":", StringComparison.Ordinal), p.Value)))
            .Add(new AgentVariablesConfigurationSource(new Hashtable(environment.ToDictionary(p => p.Key, p => (object?)p.Value))))
            .Build();
        return AgentOptions.Load(configuration);
    }

    private static string LoadFails(Dictionary<string, string?> environment) =>
        Assert.Throws<InvalidConfigurationException>(() => Load(environment)).Message;

    [Theory]
    [InlineData("tcp://127.0.0.1:5432", "127.0.0.1", 5432)]
    [InlineData("TCP://db.internal:6379/", "db.internal", 6379)]
    [InlineData("tcp://[::1]:9092", "[::1]", 9092)]
    [InlineData("tcp://localhost:1", "localhost", 1)]
    public void TcpUrls_AreAccepted(string text, string host, int port)
    {
        Assert.True(SettingsReader.TryParseTcpUrl(text, out var url));
        Assert.Equal(host, url.Host);
        Assert.Equal(port, url.Port);
    }

    [Theory]
    [InlineData("tcp://db")]
    [InlineData("tcp://db:")]
    [InlineData("tcp://db:0")]
    [InlineData("tcp://db:70000")]
    [InlineData("tcp://db:5432/postgres")]
    [InlineData("tcp://db:5432?x=1")]
    [InlineData("tcp://user:pw@db:5432")]
    [InlineData("tcp://:5432")]
    [InlineData("tcp://bad host:5432")]
    [InlineData("tcp://[::1]")]
    [InlineData("http://db:5432")]
    [InlineData("tcp:db:5432")]
    public void MalformedTcpUrls_AreRefused(string text) => Assert.False(SettingsReader.TryParseTcpUrl(text, out _));

    [Theory]
    [InlineData("15432=postgres", 15432, "postgres")]
    [InlineData(" 16379 = Redis ", 16379, "redis")]
    [InlineData("1=a.b-c_d", 1, "a.b-c_d")]
    [InlineData("0=redis", 0, "redis")]
    public void ListenerEntries_AreParsed(string entry, int port, string service)
    {
        Assert.True(TcpListenerSpec.TryParse(entry, out var spec, out _));
        Assert.Equal(new TcpListenerSpec(port, service), spec);
    }

    [Theory]
    [InlineData("15432", "'15432' is not port=service (e.g. 15432=postgres)")]
    [InlineData("=postgres", "'=postgres' is not port=service (e.g. 15432=postgres)")]
    [InlineData("15432=", "'15432=' is not port=service (e.g. 15432=postgres)")]
    [InlineData("pg=15432", "'pg' in 'pg=15432' is not a port (1-65535, or 0 for a free one)")]
    [InlineData("65536=postgres", "'65536' in '65536=postgres' is not a port (1-65535, or 0 for a free one)")]
    [InlineData("-1=postgres", "'-1' in '-1=postgres' is not a port (1-65535, or 0 for a free one)")]
    [InlineData("15432=post gres", "'post gres' in '15432=post gres' is not a service name (letters, digits, '-', '_' and '.')")]
    public void MalformedListenerEntries_SayWhy(string entry, string error)
    {
        Assert.False(TcpListenerSpec.TryParse(entry, out _, out var message));
        Assert.Equal(error, message);
    }

    [Fact]
    public void Listeners_Routes_AndIdleTimeout_AreRead()
    {
        var options = Load(new()
        {
            ["SIDECAR_TCP_LISTENERS"] = "15432=postgres, 16379=Redis",
            ["ROUTES"] = "redis=tcp://10.0.0.1:6379;tcp://10.0.0.2:6379,orders=http://10.0.0.3:8080",
            ["Forwarding__TcpIdleTimeout"] = "90s",
        }).Forwarding;

        Assert.Equal([new TcpListenerSpec(15432, "postgres"), new TcpListenerSpec(16379, "redis")], options.TcpListeners);
        Assert.Equal([new Uri("tcp://10.0.0.1:6379"), new Uri("tcp://10.0.0.2:6379")], options.Routes["redis"]);
        Assert.Equal(TimeSpan.FromSeconds(90), options.TcpIdleTimeout);
    }

    [Fact]
    public void Defaults_NoListeners_AnHourOfIdleTime()
    {
        var options = Load([]).Forwarding;

        Assert.Empty(options.TcpListeners);
        Assert.Equal(TimeSpan.FromHours(1), options.TcpIdleTimeout);
    }

    [Theory]
    [InlineData("SIDECAR_TCP_LISTENERS", "15432=postgres,15432=other", "SIDECAR_TCP_LISTENERS (Forwarding:TcpListeners): port 15432 (other) is listed twice")]
    [InlineData("SIDECAR_TCP_LISTENERS", "8078=postgres", "SIDECAR_TCP_LISTENERS (Forwarding:TcpListeners): port 8078 (postgres) is the API port (SIDECAR_PORT)")]
    [InlineData("SIDECAR_TCP_LISTENERS", "8080=postgres", "SIDECAR_TCP_LISTENERS (Forwarding:TcpListeners): port 8080 (postgres) is the app's port (APP_PORT)")]
    [InlineData("SIDECAR_TCP_LISTENERS", "pg", "SIDECAR_TCP_LISTENERS (Forwarding:TcpListeners): 'pg' is not port=service (e.g. 15432=postgres)")]
    [InlineData("SIDECAR_TCP_LISTENERS", "9090=postgres", "SIDECAR_TCP_LISTENERS (Forwarding:TcpListeners): port 9090 (postgres) is the metrics port (SIDECAR_METRICS_PORT)")]
    [InlineData("SIDECAR_TCP_LISTENERS", "8079=postgres", "SIDECAR_TCP_LISTENERS (Forwarding:TcpListeners): port 8079 (postgres) is the public health port (SIDECAR_PUBLIC_HEALTH_PORT)")]
    [InlineData("SIDECAR_TCP_LISTENERS", "16379=redis/0", "SIDECAR_TCP_LISTENERS (Forwarding:TcpListeners): 'redis/0' in '16379=redis/0' is not a service name (letters, digits, '-', '_' and '.')")]
    [InlineData("ROUTES", "redis=tcp://redis", "ROUTES (Forwarding:Routes): 'tcp://redis' (service 'redis') is not tcp://host:port (a host and a port, nothing else)")]
    [InlineData("ROUTES", "redis=tcp://redis:6379/0", "ROUTES (Forwarding:Routes): 'tcp://redis:6379/0' (service 'redis') is not tcp://host:port (a host and a port, nothing else)")]
    [InlineData("ROUTES", "redis=redis://redis:6379", "ROUTES (Forwarding:Routes): 'redis://redis:6379' (service 'redis') is not an http://, https:// or tcp:// URL")]
    [InlineData("APP_HEALTH_URL", "tcp://127.0.0.1", "APP_HEALTH_URL (App:Health:Url): 'tcp://127.0.0.1' is not tcp://host:port (a host and a port, nothing else)")]
    [InlineData("Forwarding__TcpIdleTimeout", "5", "Forwarding:TcpIdleTimeout: '5' is not a duration (examples: 500ms, 5s, 2m, 00:00:05)")]
    public void BadTcpSettings_AreOneLineNamingTheVariable(string variable, string value, string error)
    {
        var message = LoadFails(new() { ["APP_PORT"] = "8080", ["SIDECAR_PUBLIC_HEALTH_PORT"] = "8079", ["SIDECAR_METRICS_PORT"] = "9090", [variable] = value });

        Assert.Equal("invalid configuration: " + error, message);
    }

    [Fact]
    public void PortZero_MayBeListedMoreThanOnce_AndBesideAnApiPortOfZero()
    {
        var options = Load(new() { ["SIDECAR_PORT"] = "0", ["SIDECAR_TCP_LISTENERS"] = "0=redis,0=postgres" });

        Assert.Equal([new TcpListenerSpec(0, "redis"), new TcpListenerSpec(0, "postgres")], options.Forwarding.TcpListeners);
    }

    [Fact]
    public void AListener_ThatARouteSendsBackToItself_IsRefused()
    {
        var message = LoadFails(new() { ["SIDECAR_TCP_LISTENERS"] = "16379=redis", ["ROUTES"] = "redis=tcp://localhost:16379" });

        Assert.Equal("invalid configuration: SIDECAR_TCP_LISTENERS (Forwarding:TcpListeners): port 16379 (redis) is where ROUTES sends 'redis' (localhost:16379): its connections would come back to it", message);
    }

    [Fact]
    public void ATcpHealthUrl_IsReadAsIs()
    {
        var health = Load(new() { ["APP_PORT"] = "5432", ["APP_HEALTH_URL"] = "tcp://127.0.0.1:5432" }).Health;

        Assert.Equal(new Uri("tcp://127.0.0.1:5432"), health.Url);
        Assert.True(Sidecar.Health.TcpAppHealthProbe.IsTcp(health.Url!));
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", true)]
    [InlineData("localhost", "127.0.0.1", true)]
    [InlineData("127.0.0.2", "127.0.0.1", true)]
    [InlineData("[::1]", "127.0.0.1", true)]
    [InlineData("127.0.0.1", "0.0.0.0", true)]
    [InlineData("10.0.0.5", "10.0.0.5", true)]
    [InlineData("10.0.0.5", "127.0.0.1", false)]
    [InlineData("127.0.0.1", "10.0.0.5", false)]
    [InlineData("db.internal", "0.0.0.0", false)]
    public void ListenerAddresses_AreRecognised(string host, string bind, bool expected) =>
        Assert.Equal(expected, TcpListenerSpec.IsListenerAddress(host, IPAddress.Parse(bind)));

    [Theory]
    [InlineData(SocketError.Success, "Connected")]
    [InlineData(SocketError.ConnectionRefused, "Refused")]
    [InlineData(SocketError.TimedOut, "TimedOut")]
    [InlineData(SocketError.HostUnreachable, "Unreachable")]
    [InlineData(SocketError.NetworkUnreachable, "Unreachable")]
    [InlineData(SocketError.HostNotFound, "Unreachable")]
    [InlineData(SocketError.TryAgain, "Unreachable")]
    [InlineData(SocketError.OperationAborted, "Abandoned")]
    [InlineData(SocketError.ConnectionReset, "Failed")]
    [InlineData(SocketError.AccessDenied, "Failed")]
    public void ConnectErrors_AreClassified(SocketError error, string outcome) =>
        Assert.Equal(outcome, TcpConnectDecider.Classify(error).ToString());

    public static TheoryData<string, int, int, bool, bool> Decisions => new()
    {
        // outcome, attempts so far, Retries, the instance failed, try another
        { "Connected", 1, 2, false, false },
        { "Abandoned", 1, 2, false, false },
        { "Refused", 1, 2, true, true },
        { "Refused", 2, 2, true, true },
        { "Refused", 3, 2, true, false },
        { "Refused", 1, 0, true, false },
        { "TimedOut", 1, 1, true, true },
        { "TimedOut", 2, 1, true, false },
        { "Unreachable", 1, 2, true, true },
        { "Failed", 1, 2, true, true },
    };

    [Theory]
    [MemberData(nameof(Decisions))]
    public void EveryConnectError_IsTheInstancesFailure_AndTriedElsewhere_UpToRetries(string outcome, int attempts, int retries, bool failed, bool another) =>
        Assert.Equal(new TcpConnectDecision(failed, another), TcpConnectDecider.Decide(Enum.Parse<TcpConnectOutcome>(outcome), attempts, retries));

    [Theory]
    [InlineData("Refused", "refused")]
    [InlineData("TimedOut", "timeout")]
    [InlineData("Unreachable", "unreachable")]
    [InlineData("Failed", "error")]
    public void FailureReasons_AreTheMetricLabels(string outcome, string reason)
    {
        Assert.Equal(reason, TcpConnectDecider.Reason(Enum.Parse<TcpConnectOutcome>(outcome)));
        Assert.Contains(reason, TcpListenerCounters.FailureReasons);
    }
}

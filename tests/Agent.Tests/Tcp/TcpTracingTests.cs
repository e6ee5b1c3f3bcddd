using System.Net;
using System.Net.Sockets;
using System.Text;
using Sidecar.Forwarding.Tcp;
using Sidecar.Observability;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Tcp;

/// <summary>
/// A TCP listener connection's span (docs/observability.md#tracing, docs/forwarding.md#tcp-listeners), read back from
/// the fake OTLP collector: a client span per connection, the instance reached, the bytes each way, an event per
/// failed connect, an error status when no instance could be reached.
/// </summary>
public sealed class TcpTracingTests
{
    [Fact]
    public async Task AConnection_IsAClientSpan_NamingTheInstance_AndTheBytesEachWay()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        using var instance = EchoOnce();
        var port = ((IPEndPoint)instance.LocalEndPoint!).Port;
        await using var agent = await StartAsync(collector, $"blob=tcp://127.0.0.1:{port}", "0=blob");

        using (var client = await TcpListenerTests.ConnectAsync(TcpListenerTests.ListenerPort(agent, "blob")))
        {
            await client.SendAsync("hello, instance"u8.ToArray());
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal("hello, instance", await TcpListenerTests.ReadToEndAsync(client, TimeSpan.FromSeconds(10)));
        }

        var span = await SpanAsync(agent, collector);
        Assert.Equal("tcp blob", span.Name);
        Assert.Equal(3, span.Kind); // client
        Assert.Equal(0, span.StatusCode);
        Assert.Equal("tcp", span.Attributes["network.transport"]);
        Assert.Equal("blob", span.Attributes["peer.service"]);
        Assert.Equal("127.0.0.1", span.Attributes["server.address"]);
        Assert.Equal((long)port, span.Attributes["server.port"]);
        Assert.Equal("127.0.0.1", span.Attributes["network.peer.address"]);
        Assert.Equal((long)port, span.Attributes["network.peer.port"]);
        Assert.Equal((long)TcpListenerTests.ListenerPort(agent, "blob"), span.Attributes["sidecar.tcp.listener"]);
        Assert.Equal(15L, span.Attributes["sidecar.tcp.bytes_sent"]);
        Assert.Equal(15L, span.Attributes["sidecar.tcp.bytes_received"]);
        Assert.Equal(1L, span.Attributes["sidecar.tcp.connect_attempts"]);
        Assert.Empty(span.Events);
        Assert.Equal("", span.ParentSpanId); // a trace of its own
        Assert.False(span.Attributes.ContainsKey("sidecar.tcp.closed_by"), "the app ended it, not the agent");
    }

    [Fact]
    public async Task AConnectionTheAgentClosesForIdleness_SaysSo()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        using var instance = EchoOnce();
        await using var agent = await StartAsync(collector, $"blob=tcp://127.0.0.1:{((IPEndPoint)instance.LocalEndPoint!).Port}", "0=blob",
            ("Forwarding__TcpIdleTimeout", "300ms"));

        using (var client = await TcpListenerTests.ConnectAsync(TcpListenerTests.ListenerPort(agent, "blob")))
        {
            Assert.Equal("", await TcpListenerTests.ReadToEndAsync(client, TimeSpan.FromSeconds(10))); // the agent's FIN
        }

        var span = await SpanAsync(agent, collector);
        Assert.Equal("idle", span.Attributes["sidecar.tcp.closed_by"]);
        Assert.Equal(0L, span.Attributes["sidecar.tcp.bytes_sent"]);
        Assert.Equal(0, span.StatusCode);
    }

    [Fact]
    public async Task NoInstanceReachable_IsAnErrorSpan_WithAnEventPerFailedConnect()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        var (dead1, dead2) = (LoopbackServer.RefusingPort(), LoopbackServer.RefusingPort());
        await using var agent = await StartAsync(collector, $"blob=tcp://127.0.0.1:{dead1};tcp://127.0.0.1:{dead2}", "0=blob",
            ("Forwarding__Services__blob__Retries", "1"));

        await Assert.ThrowsAsync<SocketException>(async () =>
        {
            using var client = await TcpListenerTests.ConnectAsync(TcpListenerTests.ListenerPort(agent, "blob"));
            await TcpListenerTests.ReadToEndAsync(client, TimeSpan.FromSeconds(10)); // reset once both attempts failed
        });

        var span = await SpanAsync(agent, collector);
        Assert.Equal(2, span.StatusCode); // error
        Assert.Equal("refused", span.Attributes["error.type"]);
        Assert.Equal(2L, span.Attributes["sidecar.tcp.connect_attempts"]);
        Assert.Equal(new[] { "sidecar.connect_failed", "sidecar.connect_failed" }, span.Events.Select(e => e.Name));
        Assert.Equal(new object[] { 1L, 2L }, span.Events.Select(e => e.Attributes["sidecar.attempt"]));
        Assert.Equal(new[] { (long)dead1, (long)dead2 }.Order(), span.Events.Select(e => (long)e.Attributes["server.port"]).Order());
        Assert.All(span.Events, e => Assert.Equal("refused", e.Attributes["error.type"]));
        Assert.False(span.Attributes.ContainsKey("server.port"), "no instance was reached");
    }

    [Fact]
    public async Task AServiceNobodyKnows_IsAnErrorSpan_NoInstance()
    {
        await using var collector = await FakeOtlpCollector.StartAsync();
        await using var agent = await StartAsync(collector, null, "0=nowhere");

        await Assert.ThrowsAsync<SocketException>(async () =>
        {
            using var client = await TcpListenerTests.ConnectAsync(TcpListenerTests.ListenerPort(agent, "nowhere"));
            await TcpListenerTests.ReadToEndAsync(client, TimeSpan.FromSeconds(10));
        });

        var span = await SpanAsync(agent, collector);
        Assert.Equal(2, span.StatusCode);
        Assert.Equal("no_instance", span.Attributes["error.type"]);
        Assert.Equal(0L, span.Attributes["sidecar.tcp.connect_attempts"]);
    }

    [Fact]
    public async Task WithoutAnEndpoint_NoSpanIsStarted()
    {
        using var instance = EchoOnce();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = "",
            ["ROUTES"] = $"blob=tcp://127.0.0.1:{((IPEndPoint)instance.LocalEndPoint!).Port}",
            ["SIDECAR_TCP_LISTENERS"] = "0=blob",
        });
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = s => s.Name == AgentTracing.SourceName,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
        };
        var started = new List<string>();
        listener.ActivityStarted = a =>
        {
            lock (started)
            {
                started.Add(a.OperationName);
            }
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);

        using (var client = await TcpListenerTests.ConnectAsync(TcpListenerTests.ListenerPort(agent, "blob")))
        {
            await client.SendAsync("x"u8.ToArray());
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal("x", await TcpListenerTests.ReadToEndAsync(client, TimeSpan.FromSeconds(10)));
        }

        await Eventually.TrueAsync(() => agent.Get<TcpListeners>().OpenConnections == 0, "the connection ended");
        lock (started)
        {
            Assert.DoesNotContain("tcp blob", started); // another test's agent in this process may trace: only this service counts
        }
    }

    private static Task<AgentHarness> StartAsync(FakeOtlpCollector collector, string? routes, string listeners, params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = "",
            ["SIDECAR_TCP_LISTENERS"] = listeners,
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint,
        };
        if (routes is not null)
        {
            environment["ROUTES"] = routes;
        }

        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return AgentHarness.StartAsync(environment);
    }

    // The span is ended once the connection is, then exported by the flush. Only a span of this agent's listeners: the
    // agents of tests running beside it in this process export their spans too (one ActivitySource per process).
    private static async Task<OtlpSpan> SpanAsync(AgentHarness agent, FakeOtlpCollector collector)
    {
        await Eventually.TrueAsync(() => agent.Get<TcpListeners>().OpenConnections == 0, "the connection ended");
        var listeners = agent.Get<Sidecar.Forwarding.ForwardingOptions>().TcpListeners.Select(l => (long)l.Port).ToHashSet();
        bool Ours(OtlpSpan s) => s.Name.StartsWith("tcp ", StringComparison.Ordinal) &&
            s.Attributes.TryGetValue("sidecar.tcp.listener", out var listener) && listener is long port && listeners.Contains(port);
        await collector.ExportedAsync(agent, c => c.Spans.Any(Ours), "the connection's span exported");
        return Assert.Single(collector.Spans, Ours);
    }

    // An instance that echoes what one connection sends until its FIN, then closes.
    private static Socket EchoOnce()
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        server.Listen();
        _ = Task.Run(async () =>
        {
            try
            {
                using var peer = await server.AcceptAsync();
                var buffer = new byte[4096];
                int read;
                while ((read = await peer.ReceiveAsync(buffer)) > 0)
                {
                    await peer.SendAsync(buffer.AsMemory(0, read));
                }

                peer.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // the test ended first
            }
        });
        return server;
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Hosting;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Hosting;

/// <summary>
/// The public health listener is reachable by anyone on the network: idle sockets must not starve the
/// kubelet's and Eureka's probes, it must answer like the API, and it must be reachable over IPv6 too.
/// </summary>
public sealed class PublicHealthListenerTests
{
    private static readonly string[] HealthRoutes = ["/ping", "/healthcheck", "/status", "/v1/health", "/v1/health/live", "/v1/health/ready"];

    private static Task<AgentHarness> StartAgentAsync(FakeTimeProvider? time = null) =>
        AgentHarness.StartAsync(
            new Dictionary<string, string?> { ["SIDECAR_PUBLIC_HEALTH_PORT"] = "9999", ["APP_HEALTH_URL"] = "" },
            time is null ? null : services => services.AddSingleton<TimeProvider>(time));

    [Fact]
    public async Task ATrailingSlash_IsServedOnThePublicListener_AsOnTheApi()
    {
        await using var agent = await StartAgentAsync();

        foreach (var route in HealthRoutes)
        {
            var onPublic = await RawHttp.SendAsync(agent.PublicHealthUri!.Port, $"GET {route}/ HTTP/1.1\r\nHost: x");
            var onApi = await RawHttp.SendAsync(agent.BaseUri.Port, $"GET {route}/ HTTP/1.1\r\nHost: 127.0.0.1");

            Assert.True(onPublic.Status == 200, $"{route}/ on the public listener: {onPublic.Status}");
            Assert.True(onApi.Status == 200, $"{route}/ on the API: {onApi.Status}");
        }

        Assert.Equal(404, (await RawHttp.SendAsync(agent.PublicHealthUri!.Port, "GET /metrics/ HTTP/1.1\r\nHost: x")).Status);
        Assert.Equal(404, (await RawHttp.SendAsync(agent.PublicHealthUri!.Port, "GET / HTTP/1.1\r\nHost: x")).Status);
    }

    [Fact]
    public async Task AnotherMethod_IsA405WithAllow()
    {
        await using var agent = await StartAgentAsync();

        var answer = await RawHttp.SendAsync(agent.PublicHealthUri!.Port, "PUT /status HTTP/1.1\r\nHost: x\r\nContent-Length: 0");

        Assert.Equal(405, answer.Status);
        Assert.Equal("GET, HEAD", answer.Header("Allow"));
        Assert.Equal("method-not-allowed", answer.Header("X-Sidecar-Error"));
    }

    [Fact]
    public async Task TheListener_IsDualMode_ReachableOverIPv6AndIPv4()
    {
        await using var agent = await StartAgentAsync();
        var port = agent.PublicHealthUri!.Port;
        var addresses = agent.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;

        if (!Socket.OSSupportsIPv6)
        {
            Assert.Contains($"http://0.0.0.0:{port}", addresses);
            return; // IPv4 only: the fallback
        }

        Assert.Contains($"http://[::]:{port}", addresses);
        foreach (var address in new[] { IPAddress.IPv6Loopback, IPAddress.Loopback })
        {
            using var socket = await ConnectAsync(null, address, port);
            var answer = await ExchangeAsync(socket, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
            Assert.True(answer.EndsWith("pong", StringComparison.Ordinal), $"over {address}: {answer}");
        }
    }

    [Fact]
    public async Task EveryAnswer_ClosesItsConnection_WhileTheApiKeepsItsConnectionsAlive()
    {
        await using var agent = await StartAgentAsync();

        using var publicSocket = await ConnectAsync(null, IPAddress.Loopback, agent.PublicHealthUri!.Port);
        var publicAnswer = await ExchangeAsync(publicSocket, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
        using var apiSocket = await ConnectAsync(null, IPAddress.Loopback, agent.BaseUri.Port);
        var first = await ExchangeAsync(apiSocket, "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        var second = await ExchangeAsync(apiSocket, "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");

        Assert.Contains("\r\nConnection: close\r\n", publicAnswer, StringComparison.OrdinalIgnoreCase);
        await Eventually.TrueAsync(() => RawHttp.IsClosed(publicSocket), "the public listener closed the connection after its answer");
        Assert.DoesNotContain("Connection: close", first, StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith("pong", second, StringComparison.Ordinal);
        Assert.False(RawHttp.IsClosed(apiSocket));
    }

    [Fact]
    public async Task IdleSocketsFromOneAddress_DoNotStarveAProbeFromAnother_AndAreClosedAfterTheTimeOut()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var agent = await StartAgentAsync(time);
        var port = agent.PublicHealthUri!.Port;
        var connections = agent.Get<PublicHealthConnections>();
        var idle = new List<Socket>();
        try
        {
            // Someone on the network opens 300 sockets and sends nothing (before: 256 of them were held for Kestrel's 130 s keep-alive).
            for (var i = 0; i < 300; i++)
            {
                idle.Add(await ConnectAsync(null, IPAddress.Loopback, port));
            }

            await Eventually.TrueAsync(() => idle.Count(RawHttp.IsClosed) == 300 - KestrelLimits.MaxPublicHealthConnectionsPerAddress, "the sockets beyond the per-address cap were closed at once");
            Assert.Equal(KestrelLimits.MaxPublicHealthConnectionsPerAddress, connections.Count);

            // The kubelet, from another address (127.0.0.2 stands for it), is answered at once.
            var started = Stopwatch.StartNew();
            using var probe = await ConnectAsync(IPAddress.Parse("127.0.0.2"), IPAddress.Loopback, port);
            var answer = await ExchangeAsync(probe, "GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(2), $"the probe waited {started.Elapsed}");

            // The idle ones stay until the time-out, not a moment longer.
            time.Advance(KestrelLimits.PublicHealthIdleTimeout - TimeSpan.FromMilliseconds(100));
            Assert.Equal(300 - KestrelLimits.MaxPublicHealthConnectionsPerAddress, idle.Count(RawHttp.IsClosed));
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Eventually.TrueAsync(() => idle.All(RawHttp.IsClosed) && connections.Count == 0, "every idle socket was closed after the time-out");

            // And the address that held them is served again.
            using var again = await ConnectAsync(null, IPAddress.Loopback, port);
            Assert.EndsWith("pong", await ExchangeAsync(again, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var socket in idle)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task ARequestHeadTrickledPastTheTimeOut_IsCutOff_ButTheApiIsNotAffected()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var agent = await StartAgentAsync(time);
        var connections = agent.Get<PublicHealthConnections>();
        using var trickle = await ConnectAsync(null, IPAddress.Loopback, agent.PublicHealthUri!.Port);
        using var api = await ConnectAsync(null, IPAddress.Loopback, agent.BaseUri.Port);
        await trickle.SendAsync(Encoding.Latin1.GetBytes("GET /ping HTTP/1.1\r\nHost: x\r\n"));
        await Eventually.TrueAsync(() => connections.Count == 1, "the connection was admitted");

        time.Advance(KestrelLimits.PublicHealthIdleTimeout);

        await Eventually.TrueAsync(() => RawHttp.IsClosed(trickle), "the unfinished request head was cut off");
        Assert.False(RawHttp.IsClosed(api)); // the API's idle connections follow Kestrel's keep-alive, not this time-out
        Assert.EndsWith("pong", await ExchangeAsync(api, "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), StringComparison.Ordinal);
    }

    private static async Task<Socket> ConnectAsync(IPAddress? from, IPAddress to, int port)
    {
        var socket = new Socket(to.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        await socket.ConnectAsync(to, port);
        return socket;
    }

    // Sends a request and reads one answer (its head and a short body, as the health routes give).
    private static async Task<string> ExchangeAsync(Socket socket, string request)
    {
        await socket.SendAsync(Encoding.Latin1.GetBytes(request));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            if (read == 0)
            {
                return received.ToString();
            }

            received.Append(Encoding.Latin1.GetString(buffer, 0, read));
            var text = received.ToString();
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end > 0 && int.TryParse(HeaderValue(text[..end], "Content-Length"), out var length) && text.Length >= end + 4 + length)
            {
                return text;
            }
        }
    }

    private static string? HeaderValue(string head, string name) =>
        head.Split("\r\n").FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..].Trim();
}

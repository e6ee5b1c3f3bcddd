using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Sidecar.Tests.Support;

/// <summary>
/// A real Kestrel server on <c>127.0.0.1:0</c> running one request delegate: the base of every fake
/// (app, upstream, Eureka, Config Server). The port is read back after start, as YARP's tests do.
/// </summary>
public sealed class LoopbackServer : IAsyncDisposable
{
    private static readonly List<System.Net.Sockets.Socket> Refusing = [];
    private readonly WebApplication _app;

    private LoopbackServer(WebApplication app, Uri baseUri)
    {
        _app = app;
        BaseUri = baseUri;
    }

    public Uri BaseUri { get; }

    public int Port => BaseUri.Port;

    /// <summary>Starts a server answering every request with <paramref name="handler"/>.</summary>
    /// <param name="port">0 for any free port; a fixed port to come back on the same address after a "restart".</param>
    public static async Task<LoopbackServer> StartAsync(RequestDelegate handler, int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.Run(handler);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new LoopbackServer(app, new Uri(address + "/"));
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }

    /// <summary>
    /// A port that refuses connections: a socket bound to it and never listening, kept until the test
    /// process ends, so no other test (or agent) can take the port meanwhile.
    /// </summary>
    public static int RefusingPort()
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        lock (Refusing)
        {
            Refusing.Add(socket);
        }

        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}

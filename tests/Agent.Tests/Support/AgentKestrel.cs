using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sidecar.Hosting;

namespace Sidecar.Tests.Support;

/// <summary>
/// Kestrel set up as the agent's listeners are (<see cref="AgentListeners.ReadHeadsAsTheAgent"/>) on a free loopback
/// port, running one app: what the forwarding core's edges are compared with (docs/performance.md#the-exchange).
/// </summary>
internal sealed class AgentKestrel : IAsyncDisposable
{
    private readonly WebApplication _app;

    private AgentKestrel(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public static async Task<AgentKestrel> StartAsync(RequestDelegate app)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ReadHeadsAsTheAgent();
            kestrel.Listen(IPAddress.Loopback, 0);
        });
        var web = builder.Build();
        web.Run(app);
        await web.StartAsync();
        var address = web.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new AgentKestrel(web, new Uri(address).Port);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

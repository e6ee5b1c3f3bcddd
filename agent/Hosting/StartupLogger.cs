using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Sidecar.Configuration;
using Sidecar.Forwarding;
using Sidecar.Platform;

namespace Sidecar.Hosting;

/// <summary>
/// One line when the agent is ready: where it listens and how long start-up took. The TCP listeners follow the HTTP
/// addresses as <c>tcp://address:port=service</c>, so a port 0 listener's port is read there too (docs/forwarding.md#tcp-listeners).
/// </summary>
internal sealed partial class StartupLogger(
    IServer server,
    IHostApplicationLifetime lifetime,
    ILogger<StartupLogger> logger,
    SidecarOptions sidecar,
    ForwardingOptions forwarding) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            var startedMs = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
            LogReady(logger, AgentIndexApi.Version, string.Join(", ", addresses.Concat(TcpAddresses())), startedMs);
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private IEnumerable<string> TcpAddresses()
    {
        var host = sidecar.BindAddress.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{sidecar.BindAddress}]" : sidecar.BindAddress.ToString();
        return forwarding.TcpListeners.Select(l => $"tcp://{host}:{l.Label}={l.Service}");
    }

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "sidecar-agent {Version} listening on {Addresses}, ready {StartupMs:0} ms after process start")]
    private static partial void LogReady(ILogger logger, string version, string addresses, double startupMs);
}

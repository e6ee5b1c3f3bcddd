using System.Diagnostics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Sidecar.Platform;

namespace Sidecar.Hosting;

/// <summary>One line when the agent is ready: where it listens and how long start-up took.</summary>
internal sealed partial class StartupLogger(IServer server, IHostApplicationLifetime lifetime, ILogger<StartupLogger> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            var startedMs = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
            LogReady(logger, AgentIndexApi.Version, string.Join(", ", addresses), startedMs);
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "sidecar-agent {Version} listening on {Addresses}, ready {StartupMs:0} ms after process start")]
    private static partial void LogReady(ILogger logger, string version, string addresses, double startupMs);
}


namespace Sidecar.Platform;

/// <summary>
/// When the agent stops serving, which is later than when it starts stopping. On SIGTERM the host
/// fires <see cref="IHostApplicationLifetime.ApplicationStopping"/> first, then runs every
/// <see cref="IHostedLifecycleService.StoppingAsync"/> in reverse order of registration, one after the
/// other (registration's is the drain, <c>SIDECAR_DRAIN</c>, all the while still serving), and only
/// then stops Kestrel (the first <see cref="IHostedService.StopAsync"/>: WebApplication registers the
/// server last). Registered as the very first hosted service, this one's <c>StoppingAsync</c> runs
/// last: <see cref="Ending"/> fires when the drain is over, just before the listener closes. Work that
/// would hold Kestrel's graceful stop (long-polls) ends on it, not on ApplicationStopping.
/// </summary>
/// <remarks>The order holds because <see cref="HostOptions.ServicesStopConcurrently"/> stays false (the default).</remarks>
internal sealed class ServingLifetime : IHostedLifecycleService, IDisposable
{
    private readonly CancellationTokenSource _ending = new();

    /// <summary>Cancelled once every <c>StoppingAsync</c> (the drain) is done and the server is about to stop.</summary>
    public CancellationToken Ending => _ending.Token;

    public bool HasEnded => _ending.IsCancellationRequested;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // CancelAsync: the waiters' continuations (writing their answers) do not run on the host's stopping thread.
    public Task StoppingAsync(CancellationToken cancellationToken) => _ending.CancelAsync();

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _ending.Dispose();
}

internal static class ServingLifetimeExtensions
{
    /// <summary>Registers <see cref="ServingLifetime"/> as the first hosted service (so it is the last to stop). Safe to call twice.</summary>
    public static IServiceCollection AddServingLifetime(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(ServingLifetime)))
        {
            return services;
        }

        services.AddSingleton<ServingLifetime>();
        services.Insert(0, ServiceDescriptor.Singleton<IHostedService>(sp => sp.GetRequiredService<ServingLifetime>()));
        return services;
    }
}

namespace Sidecar.Forwarding;

/// <summary>Runs <see cref="ServicePools.Sweep"/> every <see cref="Period"/>: the state of services that left the catalog is freed after <see cref="ServicePools.Retention"/>.</summary>
internal sealed partial class ServicePoolSweeper(ServicePools pools, TimeProvider time, ILogger<ServicePoolSweeper> logger) : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(Period, time, stoppingToken).ConfigureAwait(false);
                try
                {
                    if (pools.Sweep() is var freed and > 0)
                    {
                        LogFreed(logger, freed, ServicePools.Retention.TotalMinutes);
                    }
                }
#pragma warning disable CA1031 // the sweep is housekeeping: it must never stop
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    LogSweepFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutting down
        }
    }

    [LoggerMessage(EventId = 510, Level = LogLevel.Debug, Message = "Freed the state of {Count} service(s) gone from the registry for {Minutes} min")]
    private static partial void LogFreed(ILogger logger, int count, double minutes);

    [LoggerMessage(EventId = 511, Level = LogLevel.Warning, Message = "Freeing the state of departed services failed; trying again")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}

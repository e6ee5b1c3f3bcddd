namespace Sidecar.Forwarding;

/// <summary>
/// Runs <see cref="ServicePools.Sweep"/> every <see cref="Period"/> (or every retention, when that is
/// shorter): the state of services that left the catalog is freed at most a period after <see cref="ServicePools.Retention"/>.
/// </summary>
internal sealed partial class ServicePoolSweeper(ServicePools pools, TimeProvider time, ILogger<ServicePoolSweeper> logger) : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(pools.Retention < Period ? pools.Retention : Period, time, stoppingToken).ConfigureAwait(false);
                try
                {
                    if (pools.Sweep() is var freed and > 0)
                    {
                        LogFreed(logger, freed, Configuration.DurationParser.Format(pools.Retention));
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

    [LoggerMessage(EventId = 510, Level = LogLevel.Debug, Message = "Freed the state of {Count} service(s) gone from every source for {Retention}")]
    private static partial void LogFreed(ILogger logger, int count, string retention);

    [LoggerMessage(EventId = 511, Level = LogLevel.Warning, Message = "Freeing the state of departed services failed; trying again")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}

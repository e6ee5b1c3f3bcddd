using System.Text.Json;
using Sidecar.Eureka;

namespace Sidecar.Discovery;

/// <summary>
/// Keeps <see cref="EurekaRegistry"/> current (docs/eureka.md#registry, docs/eureka.md#delta-and-the-reconcile-hash):
/// a full fetch at start, then a delta every <see cref="EurekaOptions.FetchInterval"/>, checked
/// against the server's whole-registry hash; a mismatch, a 403/404 (delta disabled) or an
/// unreadable delta falls back to a full fetch. While every server fails the last good registry
/// stays; when none answers at start, the disk snapshot is loaded so a restarted agent still routes,
/// and while no registry at all is held the fetch is tried again after 1, 2, 4... seconds (up to the interval).
/// </summary>
internal sealed partial class EurekaRegistryRefresher(
    EurekaOptions options,
    EurekaHttpClient client,
    EurekaRegistry registry,
    RegistrySnapshotStore snapshots,
    TimeProvider time,
    ILogger<EurekaRegistryRefresher> logger) : BackgroundService
{
    /// <summary>Most instances dropped while reading whose warning is remembered; past it the memory starts again (a few repeated warnings, never unbounded growth).</summary>
    private const int MaxDroppedRemembered = 4096;

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(1);

    private readonly HashSet<string> _droppedLogged = new(StringComparer.Ordinal);
    private HashSet<RejectedInstance> _rejectedLogged = [];
    private bool _failing;

    /// <summary>One refresh: full when the registry did not come from a server (or is empty of one), else a delta.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (registry.View.Origin != RegistryOrigin.Server)
        {
            await FullFetchAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        var response = await client.GetDeltaAsync(cancellationToken).ConfigureAwait(false);
        await Platform.InlineIo.LeaveSocketThread(); // parsing and the snapshot file stay off the socket thread
        if (!response.Accepted)
        {
            Failed(response.Describe());
            return;
        }

        if (response.StatusCode != 200)
        {
            LogDeltaRefused(logger, response.Server.Display, response.StatusCode);
            await FullFetchAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        EurekaApplications delta;
        try
        {
            delta = Parse(response.Body);
        }
        catch (JsonException ex)
        {
            LogUnreadable(logger, "delta", response.Server.Display, ex.Message);
            await FullFetchAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        Recovered(response.Server.Display);
        var matches = registry.ApplyDelta(delta, response.Server.Display, time.GetUtcNow(), out var changed);
        ReportRejected(registry.View);
        if (!matches)
        {
            LogHashMismatch(logger, registry.View.HashCode, delta.AppsHashCode);
            await FullFetchAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        if (changed)
        {
            snapshots.Save(registry.View.Applications);
        }
    }

    /// <summary>Fetches the whole registry; false when no server gave a readable one (the registry in memory is kept).</summary>
    public async Task<bool> FullFetchAsync(CancellationToken cancellationToken)
    {
        var response = await client.GetApplicationsAsync(cancellationToken).ConfigureAwait(false);
        await Platform.InlineIo.LeaveSocketThread(); // a full registry takes milliseconds to parse
        if (!response.Succeeded)
        {
            Failed(response.Describe());
            return false;
        }

        EurekaApplications applications;
        try
        {
            applications = Parse(response.Body);
        }
        catch (JsonException ex)
        {
            LogUnreadable(logger, "registry", response.Server.Display, ex.Message);
            return false;
        }

        Recovered(response.Server.Display);
        var first = registry.View.Origin != RegistryOrigin.Server;
        registry.Replace(applications, RegistryOrigin.Server, response.Server.Display, time.GetUtcNow());
        var view = registry.View;
        ReportRejected(view);
        if (first)
        {
            LogFetched(logger, view.ServiceNames.Count, view.InstanceCount, response.Server.Display);
        }

        snapshots.Save(view.Applications);
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            if (!await RunGuardedAsync(FullFetchAsync, stoppingToken).ConfigureAwait(false))
            {
                LoadSnapshot();
            }

            var retry = FirstRetryDelay;
            while (!stoppingToken.IsCancellationRequested)
            {
                // Without any registry the agent can route nowhere (and is not ready): try again sooner, backing off to the interval.
                var wait = options.FetchInterval;
                if (registry.View.Origin == RegistryOrigin.None && retry < wait)
                {
                    wait = retry;
                    retry *= 2;
                }

                var sleeping = Task.Delay(wait, time, stoppingToken);
                LogNextRefresh(logger, wait); // after the timer is armed: a test that sees the line may advance its clock
                await sleeping.ConfigureAwait(false);
                await RunGuardedAsync(async ct =>
                {
                    await RefreshAsync(ct).ConfigureAwait(false);
                    return true;
                }, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutting down
        }
    }

    private void LoadSnapshot()
    {
        if (registry.View.Origin != RegistryOrigin.None || snapshots.Load() is not { } snapshot)
        {
            return;
        }

        registry.Replace(snapshot.Applications, RegistryOrigin.Snapshot, null, snapshot.SavedAt);
        var view = registry.View;
        ReportRejected(view);
        LogSnapshotLoaded(logger, view.ServiceNames.Count, view.InstanceCount, snapshots.FilePath, snapshot.SavedAt);
    }

    private async Task<bool> RunGuardedAsync(Func<CancellationToken, Task<bool>> refresh, CancellationToken stoppingToken)
    {
        try
        {
            return await refresh(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // the refresh loop must outlive any surprise: log it, keep the registry, go on
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogRefreshError(logger, ex);
            return false;
        }
    }

    private EurekaApplications Parse(byte[] body)
    {
        var dropped = new List<string>();
        var applications = EurekaJsonReader.ReadApplications(body, dropped);
        foreach (var instance in dropped)
        {
            if (_droppedLogged.Count >= MaxDroppedRemembered)
            {
                _droppedLogged.Clear();
            }

            if (_droppedLogged.Add(instance))
            {
                LogDropped(logger, ServiceInstance.Shown(instance));
            }
        }

        return applications;
    }

    /// <summary>
    /// One warning per instance the registry lists but calls cannot reach, when it first appears (or its
    /// reason changes): not at every refresh. What is remembered is the registry's current rejects, so
    /// it never outgrows the registry.
    /// </summary>
    private void ReportRejected(RegistryView view)
    {
        if (view.Rejected.Count == 0 && _rejectedLogged.Count == 0)
        {
            return;
        }

        var current = new HashSet<RejectedInstance>(view.Rejected);
        foreach (var rejected in current)
        {
            if (!_rejectedLogged.Contains(rejected))
            {
                LogRejected(logger, ServiceInstance.Shown(rejected.App), ServiceInstance.Shown(rejected.InstanceId), rejected.Reason);
            }
        }

        _rejectedLogged = current;
    }

    private void Failed(string error)
    {
        var view = registry.View;
        LogKeeping(logger, error, view.Origin == RegistryOrigin.None ? "no registry yet" : $"{view.InstanceCount} instances from {view.UpdatedAt:O}");
        _failing = true;
    }

    private void Recovered(string server)
    {
        if (_failing)
        {
            _failing = false;
            LogRecovered(logger, server);
        }
    }

    [LoggerMessage(EventId = 250, Level = LogLevel.Information, Message = "Fetched the registry: {Services} services, {Instances} instances from {Server}")]
    private static partial void LogFetched(ILogger logger, int services, int instances, string server);

    [LoggerMessage(EventId = 251, Level = LogLevel.Warning, Message = "Registry fetch failed on every Eureka server ({Error}); keeping the last good registry ({Kept})")]
    private static partial void LogKeeping(ILogger logger, string error, string kept);

    [LoggerMessage(EventId = 252, Level = LogLevel.Information, Message = "Registry hash mismatch after delta (local {Local}, server {Server}): fetching in full")]
    private static partial void LogHashMismatch(ILogger logger, string local, string server);

    [LoggerMessage(EventId = 253, Level = LogLevel.Information, Message = "Eureka {Server} answered the delta with {StatusCode}: fetching in full")]
    private static partial void LogDeltaRefused(ILogger logger, string server, int statusCode);

    [LoggerMessage(EventId = 254, Level = LogLevel.Warning, Message = "Unreadable {What} from {Server}: {Error}")]
    private static partial void LogUnreadable(ILogger logger, string what, string server, string error);

    [LoggerMessage(EventId = 255, Level = LogLevel.Warning, Message = "No Eureka server answered: loaded {Services} services, {Instances} instances from the snapshot {Path} saved {SavedAt:O}")]
    private static partial void LogSnapshotLoaded(ILogger logger, int services, int instances, string path, DateTimeOffset savedAt);

    [LoggerMessage(EventId = 256, Level = LogLevel.Warning, Message = "Registry instance {Instance} left out: no app, hostName or ipAddr")]
    private static partial void LogDropped(ILogger logger, string instance);

    [LoggerMessage(EventId = 259, Level = LogLevel.Warning, Message = "Registry instance {App}/{InstanceId} left out: {Reason}; calls go to the other instances")]
    private static partial void LogRejected(ILogger logger, string app, string instanceId, string reason);

    [LoggerMessage(EventId = 257, Level = LogLevel.Information, Message = "Registry fetches work again ({Server})")]
    private static partial void LogRecovered(ILogger logger, string server);

    [LoggerMessage(EventId = 262, Level = LogLevel.Debug, Message = "Next registry refresh in {Wait}")]
    private static partial void LogNextRefresh(ILogger logger, TimeSpan wait);

    [LoggerMessage(EventId = 258, Level = LogLevel.Error, Message = "Registry refresh failed unexpectedly; keeping the last good registry")]
    private static partial void LogRefreshError(ILogger logger, Exception exception);
}

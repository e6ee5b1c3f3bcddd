using Microsoft.AspNetCore.Routing;
using Sidecar.AppConfig;
using Sidecar.Configuration;
using Sidecar.Forwarding;
using Sidecar.Forwarding.Tcp;
using Sidecar.Health;
using Sidecar.Observability;
using Sidecar.Registration;
using Sidecar.Discovery;
using Sidecar.Eureka;
using Sidecar.Platform;

namespace Sidecar.Overview;

/// <summary>Builds the <see cref="AgentStatus"/> from the live state of every capability (memory only: no I/O).</summary>
internal sealed class AgentStatusBuilder(
    AppOptions app,
    AppHealthMonitor monitor,
    InstanceStatusProvider instanceStatus,
    ServicePools pools,
    AppConfigStore configStore,
    ConfigMetrics configMetrics,
    AgentEventLog events,
    InstanceErrorRates rates,
    EndpointDataSource endpoints,
    TimeProvider time,
    IServiceProvider services)
{
    public AgentStatus Build()
    {
        var now = time.GetUtcNow();
        return new AgentStatus(
            "sidecar-agent",
            AgentIndexApi.Version,
            app.Name,
            now,
            Health(),
            Registration(),
            Services(now),
            TcpListeners(),
            Config(),
            Events(),
            AgentIndexApi.Routes(endpoints));
    }

    private HealthSection Health()
    {
        var current = monitor.Current;
        var probes = new List<ProbeEntry>();
        foreach (var probe in monitor.RecentProbes())
        {
            probes.Add(new ProbeEntry(probe.Time, probe.Result.Healthy, probe.Status.ToWire(), probe.Result.Detail, Math.Round(probe.Result.Duration.TotalMilliseconds, 1)));
        }

        return new HealthSection(
            current.Status.ToWire(),
            current.Since,
            current.ProbeEnabled ? monitor.ProbeUrl : null,
            current.LastProbeTime,
            current.LastResult?.Detail,
            current.ConsecutiveFailures,
            instanceStatus.Current.ToWire(),
            probes);
    }

    private RegistrationSection Registration()
    {
        var registry = services.GetService<EurekaRegistry>()?.View;
        var fetched = registry is { Origin: not RegistryOrigin.None } ? registry.UpdatedAt : (DateTimeOffset?)null;
        var registryInstances = registry is { Origin: not RegistryOrigin.None } ? registry.InstanceCount : (int?)null;
        if (services.GetService<EurekaRegistrationService>() is not { } registration)
        {
            return new RegistrationSection(false, "disabled", "standalone: no EUREKA_URLS", null, null, null, fetched, registryInstances);
        }

        var check = registration.Check();
        var reported = registration.ReportedStatus;
        var state = check.Detail == "deregistered" ? "deregistered" : reported is null ? "not registered" : "registered";
        return new RegistrationSection(true, state, check.Detail, reported?.ToWire(), registration.LastHeartbeat,
            $"{registration.AppName}/{registration.InstanceId}", fetched, registryInstances);
    }

    private List<ServiceSection> Services(DateTimeOffset now)
    {
        var catalog = pools.Catalog;
        var result = new List<ServiceSection>();
        foreach (var name in catalog.ServiceNames())
        {
            var source = "?";
            IReadOnlyList<ServiceInstance>? instances = null;
            foreach (var candidate in catalog.Sources)
            {
                if (candidate.GetInstances(name) is { } found)
                {
                    source = candidate.Name;
                    instances = found;
                    break;
                }
            }

            if (instances is null)
            {
                continue;
            }

            // The balancer's state of each UP instance, when the service was called at least once.
            var states = new Dictionary<(string, string), InstanceState>();
            var pool = pools.Peek(name);
            if (pool is not null)
            {
                foreach (var state in pool.Instances)
                {
                    states[(state.Instance.InstanceId, state.Instance.BaseUri.OriginalString)] = state;
                }
            }

            var ticks = pool?.Time.GetTimestamp() ?? 0;
            var entries = new List<InstanceEntry>(instances.Count);
            int up = 0, ejected = 0;
            foreach (var instance in instances)
            {
                states.TryGetValue((instance.InstanceId, instance.BaseUri.OriginalString), out var state);
                var isUp = instance.Status == InstanceStatus.Up;
                var isEjected = isUp && state is not null && state.IsEjected(ticks);
                up += isUp ? 1 : 0;
                ejected += isEjected ? 1 : 0;
                DateTimeOffset? until = isEjected
                    ? now + TimeSpan.FromSeconds((double)(state!.EjectedUntil - ticks) / pool!.Time.TimestampFrequency)
                    : null;
                var (requests, failures) = state is null ? (0L, 0L) : rates.Recent(state);
                entries.Add(new InstanceEntry(
                    instance.InstanceId,
                    $"{instance.Host}:{instance.Port}",
                    instance.Status.ToWire(),
                    instance.Zone,
                    !isUp ? "not UP" : isEjected ? "ejected" : "in rotation",
                    isEjected,
                    until,
                    state?.Ejections ?? 0,
                    state?.Outstanding ?? 0,
                    state?.ConsecutiveFailures ?? 0,
                    requests,
                    failures,
                    requests > 0 ? Math.Round((double)failures / requests, 4) : null));
            }

            entries.Sort(static (a, b) => string.CompareOrdinal(a.InstanceId, b.InstanceId));
            result.Add(new ServiceSection(name, source, up, ejected, entries, Resilience(pool), pool?.Metrics.History.Read()));
        }

        return result;
    }

    private static readonly string[] RejectionCodes = [Forwarding.ForwardingProblems.ConcurrencyLimit, Forwarding.ForwardingProblems.RateLimited, Forwarding.ForwardingProblems.CircuitOpen];

    private static ResilienceEntry? Resilience(Forwarding.ServicePool? pool)
    {
        if (pool is null || (pool.Admission is null && pool.Cache is null))
        {
            return null;
        }

        var admission = pool.Admission;
        var metrics = pool.Metrics;
        var served = metrics.CacheHits + metrics.CacheRevalidated;
        var lookups = served + metrics.CacheMisses;

        var rejected = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var code in RejectionCodes)
        {
            rejected[code] = pool.Metrics.ErrorCount(Array.IndexOf(ServiceMetrics.ErrorLabels, code));
        }

        var bulkhead = admission?.Bulkhead is not null;
        return new ResilienceEntry(
            admission?.Breaker?.State switch
            {
                null => null,
                Forwarding.CircuitState.Open => "open",
                Forwarding.CircuitState.HalfOpen => "half-open",
                _ => "closed",
            },
            bulkhead ? admission!.InFlight : null,
            bulkhead ? admission!.Policy.MaxConcurrentRequests : null,
            bulkhead ? admission!.Queued : null,
            admission?.Rate is null ? null : admission.Policy.RateLimit,
            rejected,
            pool.Cache is null || lookups == 0 ? null : Math.Round((double)served / lookups, 4));
    }

    // Present only when SIDECAR_TCP_LISTENERS names some: their counters are the ones /metrics copies.
    private List<TcpListenerEntry> TcpListeners()
    {
        var result = new List<TcpListenerEntry>();
        if (services.GetService<TcpMetrics>() is not { } metrics)
        {
            return result;
        }

        var bind = services.GetService<SidecarOptions>()?.BindAddress ?? System.Net.IPAddress.Loopback;
        var host = bind.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{bind}]" : bind.ToString();
        foreach (var listener in metrics.Listeners)
        {
            var failures = new Dictionary<string, long>(StringComparer.Ordinal);
            for (var i = 0; i < TcpListenerCounters.FailureReasons.Length; i++)
            {
                failures[TcpListenerCounters.FailureReasons[i]] = Volatile.Read(ref listener.ConnectFailures[i]);
            }

            result.Add(new TcpListenerEntry(listener.Spec.Port, $"{host}:{listener.Spec.Label}", listener.Spec.Service, listener.Active,
                listener.Connections, listener.BytesToInstance, listener.BytesToApp, failures));
        }

        return result;
    }

    private ConfigSection Config()
    {
        var snapshot = configStore.Current;
        var keys = new List<ConfigEntry>(snapshot.Keys.Count);
        foreach (var key in snapshot.Keys)
        {
            // By key name and by value: secrets hide under innocent keys too (db.url=postgres://user:pw@db/x).
            var shown = ConfigRedaction.Shown(key, snapshot.Values[key], out var masked);
            keys.Add(new ConfigEntry(key, shown, masked));
        }

        var status = configStore.Status;
        var seen = configMetrics.Current;
        return new ConfigSection(snapshot.Version, seen is not null && seen.Version == snapshot.Version ? seen.Since : null, status.Ready, status.Detail, keys);
    }

    private static string Kind(AgentEventKind kind) => kind switch
    {
        AgentEventKind.Health => "health",
        AgentEventKind.Registration => "registration",
        AgentEventKind.Ejection => "ejection",
        AgentEventKind.Circuit => "circuit",
        _ => "config",
    };

    private List<EventEntry> Events()
    {
        var recent = events.Recent();
        var result = new List<EventEntry>(recent.Count);
        foreach (var entry in recent)
        {
            result.Add(new EventEntry(entry.Time, Kind(entry.Kind), entry.Message));
        }

        return result;
    }
}

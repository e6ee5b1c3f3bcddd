using Sidecar.AppConfig;
using Sidecar.Discovery;
using Sidecar.Forwarding;
using Sidecar.Health;
using Sidecar.Registration;

namespace Sidecar.Observability;

/// <summary>
/// <c>GET /metrics</c>: every family in the Prometheus text format, counters from the Interlocked
/// cells, gauges read from the live state at scrape time. Label values are fixed sets, service
/// names the catalog knows (or <c>unknown</c>), or Eureka operation names: never a path, a query
/// or anything else a caller sent.
/// </summary>
internal sealed class PrometheusMetrics(
    ServicePools pools,
    EurekaMetrics eureka,
    HealthMetrics health,
    ConfigMetrics config,
    AppHealthMonitor monitor,
    InstanceStatusProvider status,
    AppConfigStore configStore,
    EurekaOptions eurekaOptions,
    TimeProvider time,
    IServiceProvider services)
{
    private static readonly InstanceStatus[] Statuses = [InstanceStatus.Up, InstanceStatus.Down, InstanceStatus.Starting, InstanceStatus.OutOfService, InstanceStatus.Unknown];

    public string Write()
    {
        var w = new PrometheusWriter();
        var now = time.GetUtcNow();
        w.Family("sidecar_agent_info", "gauge", "The agent's version.");
        w.Sample("sidecar_agent_info", 1, ("version", Hosting.AgentIndexApi.Version));
        WriteForwarding(w);
        WriteHealth(w);
        if (eurekaOptions.Enabled)
        {
            WriteEureka(w, now);
        }

        WriteConfig(w, now);
        return w.ToString();
    }

    private void WriteForwarding(PrometheusWriter w)
    {
        var all = pools.Metrics.All();
        w.Family("sidecar_forward_requests_total", "counter",
            "Requests the forwarder answered, by service (known services only, else unknown), method and status code (499: the caller left).");
        foreach (var service in all)
        {
            foreach (var (method, code, count) in service.Requests())
            {
                w.Sample("sidecar_forward_requests_total", count, ("service", service.Name), ("method", method), ("code", code));
            }
        }

        w.Family("sidecar_forward_duration_seconds", "histogram", "Time from receiving a request to the end of its answer, retries included.");
        foreach (var service in all)
        {
            if (!ReferenceEquals(service, pools.Metrics.Unknown))
            {
                w.Histogram("sidecar_forward_duration_seconds", service.Latency.Snapshot(), ("service", service.Name));
            }
        }

        w.Family("sidecar_forward_retries_total", "counter", "Attempts sent again, by service and reason.");
        foreach (var service in all)
        {
            if (ReferenceEquals(service, pools.Metrics.Unknown))
            {
                continue;
            }

            for (var r = 0; r < RetryReasons.Labels.Length; r++)
            {
                w.Sample("sidecar_forward_retries_total", service.RetryCount((RetryReason)r), ("service", service.Name), ("reason", RetryReasons.Labels[r]));
            }
        }

        w.Family("sidecar_forward_retry_budget_exhausted_total", "counter", "Retries not sent because the service's retry budget was spent.");
        WritePerService(w, all, "sidecar_forward_retry_budget_exhausted_total", static s => s.BudgetExhaustedCount);

        w.Family("sidecar_forward_errors_total", "counter", "Answers the agent made itself, by service and X-Sidecar-Error code.");
        foreach (var service in all)
        {
            for (var e = 0; e < ServiceMetrics.ErrorLabels.Length; e++)
            {
                var count = service.ErrorCount(e);
                if (count != 0)
                {
                    w.Sample("sidecar_forward_errors_total", count, ("service", service.Name), ("error", ServiceMetrics.ErrorLabels[e]));
                }
            }
        }

        w.Family("sidecar_forward_ejections_total", "counter", "Instances ejected after consecutive failures, by service.");
        WritePerService(w, all, "sidecar_forward_ejections_total", static s => s.Ejections);

        var current = new List<ServicePool>(pools.All);
        current.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        w.Family("sidecar_forward_instances", "gauge", "UP instances the forwarder can choose from, by service (services called at least once).");
        foreach (var pool in current)
        {
            w.Sample("sidecar_forward_instances", pool.Instances.Count, ("service", pool.Name));
        }

        w.Family("sidecar_forward_instances_ejected", "gauge", "Instances ejected right now, by service.");
        foreach (var pool in current)
        {
            var ejected = 0;
            var now = pool.Time.GetTimestamp(); // ejection deadlines are timestamps of the pool's clock
            foreach (var instance in pool.Instances)
            {
                ejected += instance.IsEjected(now) ? 1 : 0;
            }

            w.Sample("sidecar_forward_instances_ejected", ejected, ("service", pool.Name));
        }

        w.Family("sidecar_forward_requests_in_flight", "gauge", "Attempts waiting for an answer, by service.");
        foreach (var pool in current)
        {
            var outstanding = 0;
            foreach (var instance in pool.Instances)
            {
                outstanding += instance.Outstanding;
            }

            w.Sample("sidecar_forward_requests_in_flight", outstanding, ("service", pool.Name));
        }
    }

    private static void WritePerService(PrometheusWriter w, IReadOnlyList<ServiceMetrics> all, string name, Func<ServiceMetrics, long> value)
    {
        foreach (var service in all)
        {
            if (service.Name != ForwardingMetrics.UnknownService)
            {
                w.Sample(name, value(service), ("service", service.Name));
            }
        }
    }

    private void WriteHealth(PrometheusWriter w)
    {
        var current = monitor.Current;
        w.Family("sidecar_app_health_status", "gauge", "The app's health as last probed: 1 for the current status.");
        foreach (var s in Statuses)
        {
            w.Sample("sidecar_app_health_status", current.Status == s ? 1 : 0, ("status", s.ToWire()));
        }

        w.Family("sidecar_instance_status", "gauge", "The status reported to Eureka and on /status (OUT_OF_SERVICE when the app or the drain says so): 1 for the current one.");
        var reported = status.Current;
        foreach (var s in Statuses)
        {
            w.Sample("sidecar_instance_status", reported == s ? 1 : 0, ("status", s.ToWire()));
        }

        w.Family("sidecar_app_health_probes_total", "counter", "Health probes of the app, by result.");
        w.Sample("sidecar_app_health_probes_total", health.Healthy, ("result", "healthy"));
        w.Sample("sidecar_app_health_probes_total", health.Unhealthy, ("result", "unhealthy"));

        w.Family("sidecar_app_health_probe_duration_seconds", "histogram", "How long health probes of the app took.");
        w.Histogram("sidecar_app_health_probe_duration_seconds", health.Duration.Snapshot());

        w.Family("sidecar_app_health_consecutive_failures", "gauge", "Failed probes in a row.");
        w.Sample("sidecar_app_health_consecutive_failures", current.ConsecutiveFailures);
    }

    private void WriteEureka(PrometheusWriter w, DateTimeOffset now)
    {
        w.Family("sidecar_eureka_requests_total", "counter", "Eureka calls after failover, by operation and outcome.");
        for (var o = 0; o < EurekaMetrics.OperationLabels.Length; o++)
        {
            for (var r = 0; r < EurekaMetrics.OutcomeLabels.Length; r++)
            {
                w.Sample("sidecar_eureka_requests_total", eureka.Count(o, r),
                    ("operation", EurekaMetrics.OperationLabels[o]), ("outcome", EurekaMetrics.OutcomeLabels[r]));
            }
        }

        if (services.GetService<EurekaRegistrationService>() is { } registration)
        {
            w.Family("sidecar_eureka_registered", "gauge", "1 while Eureka holds this instance's lease (as far as the agent knows).");
            w.Sample("sidecar_eureka_registered", registration.ReportedStatus is null ? 0 : 1);
            if (registration.LastHeartbeat is { } heartbeat)
            {
                w.Family("sidecar_eureka_heartbeat_age_seconds", "gauge", "Seconds since Eureka last accepted a registration or renewal.");
                w.Sample("sidecar_eureka_heartbeat_age_seconds", Seconds(now - heartbeat));
            }
        }

        if (services.GetService<EurekaRegistry>() is { } registry && registry.View is { Origin: not RegistryOrigin.None } view)
        {
            w.Family("sidecar_eureka_registry_age_seconds", "gauge", "Seconds since the registry in memory was last fetched (or saved, when loaded from the snapshot).");
            w.Sample("sidecar_eureka_registry_age_seconds", Seconds(now - view.UpdatedAt));
            w.Family("sidecar_eureka_registry_instances", "gauge", "Instances in the registry in memory.");
            w.Sample("sidecar_eureka_registry_instances", view.InstanceCount);
        }
    }

    private void WriteConfig(PrometheusWriter w, DateTimeOffset now)
    {
        w.Family("sidecar_config_refreshes_total", "counter", "Config refreshes, by outcome.");
        for (var o = 0; o < ConfigMetrics.OutcomeLabels.Length; o++)
        {
            w.Sample("sidecar_config_refreshes_total", config.Count((ConfigRefreshOutcome)o), ("outcome", ConfigMetrics.OutcomeLabels[o]));
        }

        var snapshot = configStore.Current;
        w.Family("sidecar_config_version", "gauge", "The config version served (0 before the first load).");
        w.Sample("sidecar_config_version", snapshot.Version);
        w.Family("sidecar_config_keys", "gauge", "Keys in the config served.");
        w.Sample("sidecar_config_keys", snapshot.Values.Count);
        if (config.Current is { } seen && seen.Version == snapshot.Version)
        {
            w.Family("sidecar_config_version_age_seconds", "gauge", "Seconds since the config version served went live.");
            w.Sample("sidecar_config_version_age_seconds", Seconds(now - seen.Since));
        }
    }

    private static double Seconds(TimeSpan span) => Math.Max(0, Math.Round(span.TotalSeconds, 3));
}

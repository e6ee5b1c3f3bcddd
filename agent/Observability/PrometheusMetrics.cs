using Prometheus;
using Sidecar.AppConfig;
using Sidecar.Discovery;
using Sidecar.Forwarding;
using Sidecar.Health;
using Sidecar.Registration;

namespace Sidecar.Observability;

/// <summary>
/// <c>GET /metrics</c>: the agent's families in a prometheus-net registry (<see cref="MetricsRegistry"/>).
/// The hot path counts in its own <see cref="Interlocked"/> cells; before each scrape the registry
/// calls <see cref="Update"/>, which copies the counts into the counters (<c>IncTo</c>: counters
/// only go up) and reads the gauges from the live state. Label values are fixed sets, service names
/// the catalog knows (or <c>unknown</c>), or Eureka operation names: never a path, a query or
/// anything else a caller sent.
/// </summary>
internal sealed class PrometheusMetrics
{
    private static readonly InstanceStatus[] Statuses = [InstanceStatus.Up, InstanceStatus.Down, InstanceStatus.Starting, InstanceStatus.OutOfService, InstanceStatus.Unknown];

    private readonly MetricsRegistry _registry;
    private readonly ServicePools _pools;
    private readonly EurekaMetrics _eureka;
    private readonly HealthMetrics _health;
    private readonly ConfigMetrics _config;
    private readonly AppHealthMonitor _monitor;
    private readonly InstanceStatusProvider _status;
    private readonly AppConfigStore _configStore;
    private readonly TimeProvider _time;

    private readonly Counter _requests;
    private readonly Counter _retries;
    private readonly Counter _budgetExhausted;
    private readonly Counter _errors;
    private readonly Counter _ejections;
    private readonly UpgradeFamilies _upgrades;
    private readonly Gauge _instances;
    private readonly Gauge _ejected;
    private readonly Gauge _inFlight;
    private readonly ResilienceFamilies _resilience;
    private readonly Gauge _healthStatus;
    private readonly Gauge _instanceStatus;
    private readonly Counter _probes;
    private readonly Gauge _consecutiveFailures;
    private readonly Counter _refreshes;
    private readonly Gauge _configVersion;
    private readonly Gauge _configKeys;
    private readonly Gauge _configVersionAge;
    private readonly EurekaFamilies? _eurekaFamilies;
    private readonly ProcessFamilies _process;
    private readonly ProcessFamilies? _appProcess;
    private readonly Supervisor.AppProcess? _app;

    public PrometheusMetrics(
        MetricsRegistry registry,
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
        _registry = registry;
        _pools = pools;
        _eureka = eureka;
        _health = health;
        _config = config;
        _monitor = monitor;
        _status = status;
        _configStore = configStore;
        _time = time;

        var f = registry.Factory;
        f.CreateGauge("sidecar_agent_info", "The agent's version (kept for dashboards that use it; sidecar_build_info has the commit too).", ["version"]).WithLabels(Hosting.AgentIndexApi.Version).Set(1);
        f.CreateGauge("sidecar_build_info", "The agent's build: version and commit stamped at build (1).", ["version", "commit"])
            .WithLabels(Hosting.AgentIndexApi.Version, Hosting.AgentIndexApi.Commit).Set(1);
        _process = new ProcessFamilies(f, "process_", "The agent's");
        _app = services.GetService<Supervisor.AppProcess>();
        if (_app is not null)
        {
            // Supervisor mode: the app's own process, read the same way.
            _appProcess = new ProcessFamilies(f, "sidecar_app_process_", "The supervised app's");
        }

        _requests = f.CreateCounter("sidecar_forward_requests_total",
            "Requests the forwarder answered, by service (known services only, else unknown), method and status code (499: the caller left).",
            ["service", "method", "code"]);
        _retries = f.CreateCounter("sidecar_forward_retries_total", "Attempts sent again, by service and reason.", ["service", "reason"]);
        _budgetExhausted = f.CreateCounter("sidecar_forward_retry_budget_exhausted_total",
            "Retries not sent because the service's retry budget was spent.", ["service"]);
        _errors = f.CreateCounter("sidecar_forward_errors_total", "Answers the agent made itself, by service and X-Sidecar-Error code.", ["service", "error"]);
        _ejections = f.CreateCounter("sidecar_forward_ejections_total", "Instances ejected after consecutive failures, by service.", ["service"]);
        _upgrades = new UpgradeFamilies(f);
        _instances = f.CreateGauge("sidecar_forward_instances", "UP instances the forwarder can choose from, by service (services called at least once).", ["service"]);
        _ejected = f.CreateGauge("sidecar_forward_instances_ejected", "Instances ejected right now, by service.", ["service"]);
        _inFlight = f.CreateGauge("sidecar_forward_requests_in_flight", "Attempts waiting for an answer, by service.", ["service"]);
        _resilience = new ResilienceFamilies(f);

        _healthStatus = f.CreateGauge("sidecar_app_health_status", "The app's health as last probed: 1 for the current status.", ["status"]);
        _instanceStatus = f.CreateGauge("sidecar_instance_status",
            "The status reported to Eureka and on /status (OUT_OF_SERVICE when the app or the drain says so): 1 for the current one.", ["status"]);
        _probes = f.CreateCounter("sidecar_app_health_probes_total", "Health probes of the app, by result.", ["result"]);
        _consecutiveFailures = f.CreateGauge("sidecar_app_health_consecutive_failures", "Failed probes in a row.");

        if (eurekaOptions.Enabled)
        {
            _eurekaFamilies = new EurekaFamilies(f, services.GetService<EurekaRegistrationService>(), services.GetService<EurekaRegistry>());
        }

        _refreshes = f.CreateCounter("sidecar_config_refreshes_total", "Config refreshes, by outcome.", ["outcome"]);
        _configVersion = f.CreateGauge("sidecar_config_version", "The config version served (0 before the first load).");
        _configKeys = f.CreateGauge("sidecar_config_keys", "Keys in the config served.");
        _configVersionAge = f.CreateGauge("sidecar_config_version_age_seconds", "Seconds since the config version served went live.", [],
            new GaugeConfiguration { SuppressInitialValue = true });

        registry.Registry.AddBeforeCollectCallback(Update);
    }

    /// <summary>Copies every cell into the registry, then writes the text format.</summary>
    public Task WriteAsync(Stream body, CancellationToken cancellationToken) => _registry.WriteAsync(body, cancellationToken);

    private void Update()
    {
        var now = _time.GetUtcNow();
        UpdateForwarding();
        UpdateHealth();
        _eurekaFamilies?.Update(_eureka, now);
        UpdateConfig(now);
        _process.Update(ProcessStats.Read());
        if (_appProcess is not null)
        {
            _appProcess.Update(_app!.Pid is { } pid ? ProcessStats.Read(pid.ToString(System.Globalization.CultureInfo.InvariantCulture)) : null);
        }
    }

    private void UpdateForwarding()
    {
        var services = _pools.Metrics.All();
        var labels = new HashSet<string>(StringComparer.Ordinal);
        foreach (var service in services)
        {
            labels.Add(service.Name);
            foreach (var (method, code, count) in service.Requests())
            {
                _requests.WithLabels(service.Name, method, code).IncTo(count);
            }

            for (var e = 0; e < ServiceMetrics.ErrorLabels.Length; e++)
            {
                if (service.ErrorCount(e) is var count and not 0)
                {
                    _errors.WithLabels(service.Name, ServiceMetrics.ErrorLabels[e]).IncTo(count);
                }
            }

            if (ReferenceEquals(service, _pools.Metrics.Unknown))
            {
                continue; // nothing is sent to an unknown service: no retries, budget or ejections
            }

            for (var r = 0; r < RetryReasons.Labels.Length; r++)
            {
                _retries.WithLabels(service.Name, RetryReasons.Labels[r]).IncTo(service.RetryCount((RetryReason)r));
            }

            _budgetExhausted.WithLabels(service.Name).IncTo(service.BudgetExhaustedCount);
            _ejections.WithLabels(service.Name).IncTo(service.Ejections);
            _upgrades.Update(service);
        }

        // By the pools' service label: the services past the cap add up under "other".
        var gauges = new Dictionary<string, (int Instances, int Ejected, int Outstanding)>(StringComparer.Ordinal);
        foreach (var pool in _pools.All)
        {
            int ejected = 0, outstanding = 0;
            var now = pool.Time.GetTimestamp(); // ejection deadlines are timestamps of the pool's clock
            foreach (var instance in pool.Instances)
            {
                ejected += instance.IsEjected(now) ? 1 : 0;
                outstanding += instance.Outstanding;
            }

            var sum = gauges.GetValueOrDefault(pool.Metrics.Name);
            gauges[pool.Metrics.Name] = (sum.Instances + pool.Instances.Count, sum.Ejected + ejected, sum.Outstanding + outstanding);
        }

        foreach (var (label, (instances, ejected, outstanding)) in gauges)
        {
            _instances.WithLabels(label).Set(instances);
            _ejected.WithLabels(label).Set(ejected);
            _inFlight.WithLabels(label).Set(outstanding);
        }

        // Series of services whose counters were freed (gone for ServicePools.Retention) or whose pool is gone go too.
        Unpublish(labels, _requests, _retries, _budgetExhausted, _errors, _ejections, _upgrades.Total, _upgrades.Bytes);
        Unpublish(gauges.Keys, _instances, _ejected, _inFlight);
        Unpublish(labels, _upgrades.Active);
        _resilience.Update(_pools);
    }

    // Removes every series whose service label (the first) is not in the set: what prometheus-net holds otherwise stays for ever.
    private static void Unpublish(ICollection<string> kept, params Collector<Counter.Child>[] families) =>
        UnpublishAll(kept, families);

    private static void Unpublish(ICollection<string> kept, params Collector<Gauge.Child>[] families) =>
        UnpublishAll(kept, families);

    internal static void UnpublishAll<TChild>(ICollection<string> kept, Collector<TChild>[] families)
        where TChild : ChildBase
    {
        foreach (var family in families)
        {
            foreach (var values in family.GetAllLabelValues())
            {
                if (!kept.Contains(values[0]))
                {
                    family.WithLabels(values).Remove();
                }
            }
        }
    }

    private void UpdateHealth()
    {
        var current = _monitor.Current;
        var reported = _status.Current;
        foreach (var s in Statuses)
        {
            _healthStatus.WithLabels(s.ToWire()).Set(current.Status == s ? 1 : 0);
            _instanceStatus.WithLabels(s.ToWire()).Set(reported == s ? 1 : 0);
        }

        _probes.WithLabels("healthy").IncTo(_health.Healthy);
        _probes.WithLabels("unhealthy").IncTo(_health.Unhealthy);
        _consecutiveFailures.Set(current.ConsecutiveFailures);
    }

    private void UpdateConfig(DateTimeOffset now)
    {
        for (var o = 0; o < ConfigMetrics.OutcomeLabels.Length; o++)
        {
            _refreshes.WithLabels(ConfigMetrics.OutcomeLabels[o]).IncTo(_config.Count((ConfigRefreshOutcome)o));
        }

        var snapshot = _configStore.Current;
        _configVersion.Set(snapshot.Version);
        _configKeys.Set(snapshot.Values.Count);
        if (_config.Current is { } seen && seen.Version == snapshot.Version)
        {
            _configVersionAge.Set(Seconds(now - seen.Since));
        }
        else
        {
            _configVersionAge.Unpublish();
        }
    }

    private static double Seconds(TimeSpan span) => Math.Max(0, Math.Round(span.TotalSeconds, 3));

    /// <summary>The <c>process_*</c> families of one process (node_exporter and client-library names); absent while it cannot be read.</summary>
    private sealed class ProcessFamilies
    {
        private readonly Counter _cpu;
        private readonly Gauge _resident;
        private readonly Gauge _virtual;
        private readonly Gauge _openFds;
        private readonly Gauge _maxFds;
        private readonly Gauge _startTime;

        public ProcessFamilies(IMetricFactory f, string prefix, string whose)
        {
            var later = new CounterConfiguration { SuppressInitialValue = true };
            var laterGauge = new GaugeConfiguration { SuppressInitialValue = true };
            _cpu = f.CreateCounter(prefix + "cpu_seconds_total", whose + " user and system CPU time, in seconds.", [], later);
            _resident = f.CreateGauge(prefix + "resident_memory_bytes", whose + " resident memory (RSS), in bytes.", [], laterGauge);
            _virtual = f.CreateGauge(prefix + "virtual_memory_bytes", whose + " virtual memory, in bytes.", [], laterGauge);
            _openFds = f.CreateGauge(prefix + "open_fds", whose + " open file descriptors (sockets included).", [], laterGauge);
            _maxFds = f.CreateGauge(prefix + "max_fds", whose + " limit of open file descriptors.", [], laterGauge);
            _startTime = f.CreateGauge(prefix + "start_time_seconds", "When " + whose.ToLowerInvariant()[..^2] + " process started, in seconds since the Unix epoch: a change means a restart.", [], laterGauge);
        }

        public void Update(ProcessStats? stats)
        {
            if (stats is null)
            {
                _cpu.Unpublish();
                _resident.Unpublish();
                _virtual.Unpublish();
                _openFds.Unpublish();
                _maxFds.Unpublish();
                _startTime.Unpublish();
                return;
            }

            _cpu.IncTo(stats.CpuSeconds);
            _resident.Set(stats.ResidentBytes);
            _virtual.Set(stats.VirtualBytes);
            _startTime.Set(stats.StartTimeSeconds);
            SetOrHide(_openFds, stats.OpenFds);
            SetOrHide(_maxFds, stats.MaxFds);
        }

        private static void SetOrHide(Gauge gauge, double? value)
        {
            if (value is { } v)
            {
                gauge.Set(v);
            }
            else
            {
                gauge.Unpublish();
            }
        }
    }

    /// <summary>The Eureka families: declared only when the agent registers (standalone agents have none).</summary>
    private sealed class EurekaFamilies
    {
        private readonly EurekaRegistrationService? _registration;
        private readonly EurekaRegistry? _registry;
        private readonly Counter _requests;
        private readonly Gauge? _registered;
        private readonly Gauge? _heartbeatAge;
        private readonly Gauge? _registryAge;
        private readonly Gauge? _registryInstances;

        public EurekaFamilies(IMetricFactory f, EurekaRegistrationService? registration, EurekaRegistry? registry)
        {
            _registration = registration;
            _registry = registry;
            _requests = f.CreateCounter("sidecar_eureka_requests_total", "Eureka calls after failover, by operation and outcome.", ["operation", "outcome"]);
            if (registration is not null)
            {
                _registered = f.CreateGauge("sidecar_eureka_registered", "1 while Eureka holds this instance's lease (as far as the agent knows).");
                _heartbeatAge = f.CreateGauge("sidecar_eureka_heartbeat_age_seconds", "Seconds since Eureka last accepted a registration or renewal.", [],
                    new GaugeConfiguration { SuppressInitialValue = true });
            }

            if (registry is not null)
            {
                var later = new GaugeConfiguration { SuppressInitialValue = true };
                _registryAge = f.CreateGauge("sidecar_eureka_registry_age_seconds",
                    "Seconds since the registry in memory was last fetched (or saved, when loaded from the snapshot).", [], later);
                _registryInstances = f.CreateGauge("sidecar_eureka_registry_instances", "Instances in the registry in memory.", [], later);
            }
        }

        public void Update(EurekaMetrics eureka, DateTimeOffset now)
        {
            for (var o = 0; o < EurekaMetrics.OperationLabels.Length; o++)
            {
                for (var r = 0; r < EurekaMetrics.OutcomeLabels.Length; r++)
                {
                    _requests.WithLabels(EurekaMetrics.OperationLabels[o], EurekaMetrics.OutcomeLabels[r]).IncTo(eureka.Count(o, r));
                }
            }

            if (_registration is not null)
            {
                _registered!.Set(_registration.ReportedStatus is null ? 0 : 1);
                if (_registration.LastHeartbeat is { } heartbeat)
                {
                    _heartbeatAge!.Set(Seconds(now - heartbeat));
                }
                else
                {
                    _heartbeatAge!.Unpublish();
                }
            }

            if (_registry is not null)
            {
                if (_registry.View is { Origin: not RegistryOrigin.None } view)
                {
                    _registryAge!.Set(Seconds(now - view.UpdatedAt));
                    _registryInstances!.Set(view.InstanceCount);
                }
                else
                {
                    _registryAge!.Unpublish();
                    _registryInstances!.Unpublish();
                }
            }
        }
    }
}

using Prometheus;
using Sidecar.Observability;

namespace Sidecar.Forwarding;

/// <summary>
/// The forwarder's families in <c>/metrics</c>, by service: requests, retries, spent budgets, the
/// agent's own answers, ejections (counters from the pools' cells) and the instances, ejected ones and
/// attempts in flight (gauges read from the pools), upgraded connections (<see cref="UpgradeFamilies"/>). Service labels are the catalog's names or
/// <c>unknown</c>; the series of a service that left go with it.
/// </summary>
internal sealed class ForwardingFamilies : IMetricsContributor
{
    private readonly ServicePools _pools;
    private readonly Counter _requests;
    private readonly Counter _retries;
    private readonly Counter _budgetExhausted;
    private readonly Counter _errors;
    private readonly Counter _ejections;
    private readonly Gauge _instances;
    private readonly Gauge _ejected;
    private readonly Gauge _inFlight;
    private readonly ResilienceFamilies _resilience;
    private readonly UpgradeFamilies _upgrades;

    public ForwardingFamilies(MetricsRegistry registry, ServicePools pools)
    {
        _pools = pools;
        var f = registry.Factory;
        _requests = f.CreateCounter("sidecar_forward_requests_total",
            "Requests the forwarder answered, by service (known services only, else unknown), method and status code (499: the caller left).",
            ["service", "method", "code"]);
        _retries = f.CreateCounter("sidecar_forward_retries_total", "Attempts sent again, by service and reason.", ["service", "reason"]);
        _budgetExhausted = f.CreateCounter("sidecar_forward_retry_budget_exhausted_total",
            "Retries not sent because the service's retry budget was spent.", ["service"]);
        _errors = f.CreateCounter("sidecar_forward_errors_total", "Answers the agent made itself, by service and X-Sidecar-Error code.", ["service", "error"]);
        _ejections = f.CreateCounter("sidecar_forward_ejections_total", "Instances ejected after consecutive failures, by service.", ["service"]);
        _instances = f.CreateGauge("sidecar_forward_instances", "UP instances the forwarder can choose from, by service (services called at least once).", ["service"]);
        _ejected = f.CreateGauge("sidecar_forward_instances_ejected", "Instances ejected right now, by service.", ["service"]);
        _inFlight = f.CreateGauge("sidecar_forward_requests_in_flight", "Attempts waiting for an answer, by service.", ["service"]);
        _resilience = new ResilienceFamilies(f);
        _upgrades = new UpgradeFamilies(f);
    }

    public void Update(DateTimeOffset now)
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
            var ticks = pool.Time.GetTimestamp(); // ejection deadlines are timestamps of the pool's clock
            foreach (var instance in pool.Instances)
            {
                ejected += instance.IsEjected(ticks) ? 1 : 0;
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
}

using Prometheus;

namespace Sidecar.Forwarding;

/// <summary>
/// The families of the bulkhead and the circuit breaker (docs/observability.md#metrics-get-metrics), one
/// series per service that has the rule on: refusals themselves are counted in
/// <c>sidecar_forward_errors_total</c> under their code (<c>concurrency-limit</c>, <c>rate-limited</c>,
/// <c>circuit-open</c>). Label values are the pools' service labels only.
/// </summary>
internal sealed class ResilienceFamilies(IMetricFactory f)
{
    private readonly Gauge _circuitState = f.CreateGauge("sidecar_forward_circuit_state",
        "The service's circuit breaker: 0 closed, 1 open, 2 half-open (services with CircuitBreaker=true).", ["service"]);

    private readonly Counter _circuitOpenings = f.CreateCounter("sidecar_forward_circuit_openings_total",
        "Times the service's circuit breaker opened.", ["service"]);

    private readonly Gauge _bulkheadInFlight = f.CreateGauge("sidecar_forward_bulkhead_in_flight",
        "Calls holding a slot of the service's bulkhead (services with MaxConcurrentRequests).", ["service"]);

    private readonly Gauge _bulkheadLimit = f.CreateGauge("sidecar_forward_bulkhead_limit",
        "The service's MaxConcurrentRequests.", ["service"]);

    private readonly Gauge _bulkheadQueued = f.CreateGauge("sidecar_forward_bulkhead_queued",
        "Calls waiting for a slot of the service's bulkhead.", ["service"]);

    private readonly Counter _cacheRequests = f.CreateCounter("sidecar_forward_cache_requests_total",
        "GET and HEAD calls to services with Cache=true, by result: hit (answered from the cache), revalidated (a 304 to a conditional request), miss.", ["service", "result"]);

    private readonly Gauge _cacheBytes = f.CreateGauge("sidecar_forward_cache_bytes", "Bytes held by the response cache (bodies and headers), at most Forwarding:CacheMaxBytes.");

    private readonly Gauge _cacheEntries = f.CreateGauge("sidecar_forward_cache_entries", "Answers held by the response cache.");

    private readonly Counter _cacheEvictions = f.CreateCounter("sidecar_forward_cache_evictions_total", "Answers dropped from the response cache to stay within Forwarding:CacheMaxBytes.");

    private readonly Counter _hedges = f.CreateCounter("sidecar_forward_hedges_total",
        "Hedged attempts of services with HedgeAfter, by outcome: sent, won (answered before the first attempt).", ["service", "outcome"]);

    public void Update(ServicePools pools)
    {
        var hedged = new HashSet<string>(StringComparer.Ordinal);
        var cached = new HashSet<string>(StringComparer.Ordinal);
        var breakers = new Dictionary<string, (int State, long Openings)>(StringComparer.Ordinal);
        var bulkheads = new Dictionary<string, (int InFlight, int Limit, long Queued)>(StringComparer.Ordinal);
        foreach (var pool in pools.All)
        {
            if (pool.Policy.Resilience.HedgeAfter is not null && hedged.Add(pool.Metrics.Name))
            {
                _hedges.WithLabels(pool.Metrics.Name, "sent").IncTo(pool.Metrics.Hedges);
                _hedges.WithLabels(pool.Metrics.Name, "won").IncTo(pool.Metrics.HedgesWon);
            }

            var admission = pool.Admission;
            if (admission is null && pool.Cache is null)
            {
                continue;
            }

            var label = pool.Metrics.Name;
            if (pool.Cache is not null && cached.Add(label))
            {
                _cacheRequests.WithLabels(label, "hit").IncTo(pool.Metrics.CacheHits);
                _cacheRequests.WithLabels(label, "revalidated").IncTo(pool.Metrics.CacheRevalidated);
                _cacheRequests.WithLabels(label, "miss").IncTo(pool.Metrics.CacheMisses);
            }

            if (admission?.Breaker is { } breaker)
            {
                var sum = breakers.GetValueOrDefault(label);
                breakers[label] = (Math.Max(sum.State, (int)breaker.State), pool.Metrics.CircuitOpenings);
            }

            if (admission?.HasBulkhead == true)
            {
                var sum = bulkheads.GetValueOrDefault(label);
                bulkheads[label] = (sum.InFlight + admission.InFlight, sum.Limit + admission.Policy.MaxConcurrentRequests, sum.Queued + admission.Queued);
            }
        }

        foreach (var (label, (state, openings)) in breakers)
        {
            _circuitState.WithLabels(label).Set(state);
            _circuitOpenings.WithLabels(label).IncTo(openings);
        }

        foreach (var (label, (inFlight, limit, queued)) in bulkheads)
        {
            _bulkheadInFlight.WithLabels(label).Set(inFlight);
            _bulkheadLimit.WithLabels(label).Set(limit);
            _bulkheadQueued.WithLabels(label).Set(queued);
        }

        _cacheBytes.Set(pools.Cache.Bytes);
        _cacheEntries.Set(pools.Cache.Count);
        _cacheEvictions.IncTo(pools.Cache.Evictions);
        ForwardingFamilies.UnpublishAll(cached, [_cacheRequests]);
        ForwardingFamilies.UnpublishAll(hedged, [_hedges]);
        ForwardingFamilies.UnpublishAll(breakers.Keys, [_circuitState]);
        ForwardingFamilies.UnpublishAll(breakers.Keys, [_circuitOpenings]);
        ForwardingFamilies.UnpublishAll(bulkheads.Keys, [_bulkheadInFlight, _bulkheadLimit, _bulkheadQueued]);
    }
}

using Prometheus;
using Sidecar.Observability;

namespace Sidecar.Eureka;

/// <summary>The Eureka calls in <c>/metrics</c>, by operation and outcome: declared only when the agent talks to Eureka (standalone agents have none).</summary>
internal sealed class EurekaFamilies : IMetricsContributor
{
    private readonly EurekaMetrics _eureka;
    private readonly Counter _requests;

    public EurekaFamilies(MetricsRegistry registry, EurekaMetrics eureka)
    {
        _eureka = eureka;
        _requests = registry.Factory.CreateCounter("sidecar_eureka_requests_total", "Eureka calls after failover, by operation and outcome.", ["operation", "outcome"]);
    }

    public void Update(DateTimeOffset now)
    {
        for (var o = 0; o < EurekaMetrics.OperationLabels.Length; o++)
        {
            for (var r = 0; r < EurekaMetrics.OutcomeLabels.Length; r++)
            {
                _requests.WithLabels(EurekaMetrics.OperationLabels[o], EurekaMetrics.OutcomeLabels[r]).IncTo(_eureka.Count(o, r));
            }
        }
    }
}

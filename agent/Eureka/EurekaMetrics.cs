
namespace Sidecar.Eureka;

/// <summary>Eureka calls by operation and outcome, counted once per operation after failover (<see cref="EurekaHttpClient"/>).</summary>
internal sealed class EurekaMetrics
{
    /// <summary>The <c>operation</c> label, indexed by <see cref="EurekaOperation"/>.</summary>
    public static readonly string[] OperationLabels = ["register", "renew", "cancel", "status_update", "status_delete", "fetch", "fetch_delta", "read_back"];

    /// <summary>
    /// The <c>outcome</c> label: <c>success</c> (2xx), <c>not_found</c> (404: the lease is unknown),
    /// <c>refused</c> (another answer a server may give, e.g. 403 to a delta), <c>failed</c> (no server answered acceptably).
    /// </summary>
    public static readonly string[] OutcomeLabels = ["success", "not_found", "refused", "failed"];

    private readonly long[] _counts = new long[OperationLabels.Length * OutcomeLabels.Length];

    public void Completed(EurekaOperation operation, EurekaResponse response)
    {
        var outcome = response.Succeeded ? 0 : response.NotFound ? 1 : response.Accepted ? 2 : 3;
        var index = ((int)operation * OutcomeLabels.Length) + outcome;
        if ((uint)index < (uint)_counts.Length)
        {
            Interlocked.Increment(ref _counts[index]);
        }
    }

    public long Count(int operation, int outcome) => Volatile.Read(ref _counts[(operation * OutcomeLabels.Length) + outcome]);
}

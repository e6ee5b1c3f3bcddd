
namespace Sidecar.Eureka;

/// <summary>
/// Eureka's reconcile hash (<c>apps__hashcode</c>): every instance counted by status, statuses
/// sorted by name (ordinal), each written <c>STATUS_count_</c>; an empty registry gives <c>""</c>.
/// 3 UP, 1 DOWN, 2 OUT_OF_SERVICE => <c>DOWN_1_OUT_OF_SERVICE_2_UP_3_</c> (docs/eureka.md#delta-and-the-reconcile-hash).
/// </summary>
internal static class AppsHashCode
{
    // The wire names in ordinal order, so no sort is needed per call.
    private static readonly InstanceStatus[] Ordered =
        [InstanceStatus.Down, InstanceStatus.OutOfService, InstanceStatus.Starting, InstanceStatus.Unknown, InstanceStatus.Up];

    public static string Compute(IEnumerable<EurekaInstanceInfo> instances)
    {
        Span<int> counts = stackalloc int[5];
        foreach (var instance in instances)
        {
            counts[(int)instance.Status]++;
        }

        var builder = new System.Text.StringBuilder();
        foreach (var status in Ordered)
        {
            var count = counts[(int)status];
            if (count > 0)
            {
                builder.Append(status.ToWire()).Append('_').Append(count.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('_');
            }
        }

        return builder.ToString();
    }
}

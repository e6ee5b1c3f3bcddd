using Sidecar.Discovery;
using Sidecar.Health;

namespace Sidecar.Tests.Discovery;

[Trait("Category", "Unit")]
public sealed class AppsHashCodeTests
{
    private static EurekaInstanceInfo With(InstanceStatus status) => new() { Status = status };

    [Fact]
    public void CountsByStatus_SortedByName()
    {
        var instances = Enumerable.Repeat(With(InstanceStatus.Up), 3)
            .Append(With(InstanceStatus.Down))
            .Concat(Enumerable.Repeat(With(InstanceStatus.OutOfService), 2));

        Assert.Equal("DOWN_1_OUT_OF_SERVICE_2_UP_3_", AppsHashCode.Compute(instances));
    }

    [Fact]
    public void SortsUnknownBeforeUp_AndStartingBeforeUnknown()
    {
        Assert.Equal("STARTING_1_UNKNOWN_1_UP_1_", AppsHashCode.Compute([With(InstanceStatus.Up), With(InstanceStatus.Unknown), With(InstanceStatus.Starting)]));
    }

    [Fact]
    public void TheEmptyRegistry_HashesToTheEmptyString()
    {
        Assert.Equal("", AppsHashCode.Compute([]));
    }
}

using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Discovery;
using Sidecar.Forwarding;
using Sidecar.Health;
using Sidecar.Tests.Fakes;

namespace Sidecar.Tests.Forwarding;

/// <summary>The instances of one call (docs/forwarding.md#choosing-an-instance): in flight while used, a retry elsewhere while there is an elsewhere.</summary>
[Trait("Category", "Unit")]
public sealed class CallInstancesTests
{
    [Theory]
    [InlineData(0, "")]
    [InlineData(1, "a a a")]
    [InlineData(2, "a b a|b")]
    [InlineData(3, "a b c")]
    public void EachAttempt_GoesToAnInstanceNotTriedYet_WhileThereIsOne(int instances, string expected)
    {
        var pool = Pool(instances);
        var call = new CallInstances();
        var names = new Dictionary<InstanceState, string>();
        var attempts = new List<string>();

        if (call.PickFirst(pool))
        {
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var instance = call.Next(pool)!;
                Assert.Same(instance, call.Current);
                Assert.Equal(1, pool.Instances.Sum(s => s.Outstanding)); // only this attempt's instance is in flight
                if (!names.TryGetValue(instance, out var name))
                {
                    name = ((char)('a' + names.Count)).ToString();
                    names[instance] = name;
                }

                attempts.Add(name);
            }
        }

        // The third attempt of two instances goes to either (both were tried): written "a|b".
        var described = string.Join(' ', attempts);
        Assert.Matches("^" + expected.Replace("a|b", "(a|b)", StringComparison.Ordinal) + "$", described);
        call.ReleaseAll();
        Assert.All(pool.Instances, s => Assert.Equal(0, s.Outstanding));
    }

    [Fact]
    public void TheFirstPick_IsInFlightBeforeItsAttempt_AndReleasedWhenTheCallEndsWithoutOne()
    {
        var pool = Pool(1);
        var call = new CallInstances();

        Assert.True(call.PickFirst(pool));
        Assert.Equal(1, pool.Instances[0].Outstanding);
        Assert.False(call.HasTriedAny);

        call.ReleaseAll();
        Assert.Equal(0, pool.Instances[0].Outstanding);
    }

    [Fact]
    public void Next_IsNull_WhenNoInstanceIsLeft()
    {
        var pool = Pool(1);
        var call = new CallInstances();
        Assert.True(call.PickFirst(pool));
        var first = call.Next(pool);

        pool.Update([], 2);

        Assert.Null(call.Next(pool));
        Assert.Equal(0, first!.Outstanding);
        Assert.True(call.HasTried(first));
    }

    [Fact]
    public void ACallObjectKeptForTheNextCall_RemembersNoInstanceOfTheLastOne()
    {
        // The forwarding core keeps one call per connection (ForwardCall.Begin): the next call may go anywhere again.
        var pool = Pool(3);
        var call = new CallInstances();
        Assert.True(call.PickFirst(pool));
        var tried = new List<InstanceState> { call.Next(pool)!, call.Next(pool)! };

        call.Forget();

        Assert.All(pool.Instances, s => Assert.Equal(0, s.Outstanding));
        Assert.False(call.HasTriedAny);
        Assert.All(tried, s => Assert.False(call.HasTried(s)));
        Assert.Null(call.Current);
        Assert.True(call.PickFirst(pool));
        Assert.Equal(1, pool.Instances.Sum(s => s.Outstanding));
        call.ReleaseAll();
    }

    private static ServicePool Pool(int instances)
    {
        var pool = new ServicePool("orders", new ServicePolicy(), null, new FakeTimeProvider(), new ForwardingLog(NullLogger<ForwardingLog>.Instance));
        var list = new ServiceInstance[instances];
        for (var i = 0; i < instances; i++)
        {
            list[i] = FakeServiceInstanceSource.Instance("orders", 1000 + i, InstanceStatus.Up);
        }

        pool.Update(list, 1);
        return pool;
    }
}

using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Discovery;
using Sidecar.Forwarding;
using Sidecar.Health;
using Sidecar.Tests.Fakes;

namespace Sidecar.Tests.Tcp;

/// <summary>A TCP listener's instance choice: the pool's, without the instances this connection already tried.</summary>
[Trait("Category", "Unit")]
public sealed class TcpPickTests
{
    private readonly FakeTimeProvider _time = new();

    private ServicePool Pool(int instances, string? zone = null, Func<int, string?>? zoneOf = null)
    {
        var pool = new ServicePool("redis", new ServicePolicy { EjectionFailures = 1 }, zone, _time, new ForwardingLog(NullLogger<ForwardingLog>.Instance));
        var list = new ServiceInstance[instances];
        for (var i = 0; i < instances; i++)
        {
            list[i] = FakeServiceInstanceSource.Instance("redis", 6000 + i, InstanceStatus.Up, zoneOf?.Invoke(i));
        }

        pool.Update(list, 1);
        return pool;
    }

    [Fact]
    public void PickExcept_NeverReturnsATriedInstance_AndNullWhenAllWereTried()
    {
        var pool = Pool(3);
        for (var i = 0; i < 30; i++)
        {
            var tried = new List<InstanceState> { pool.Instances[i % 3] };
            var picked = pool.PickExcept(tried)!;
            Assert.DoesNotContain(picked, tried);
            tried.Add(picked);
            var third = pool.PickExcept(tried)!;
            Assert.DoesNotContain(third, tried);
            tried.Add(third);
            Assert.Null(pool.PickExcept(tried));
            picked.Release();
            third.Release();
        }
    }

    [Fact]
    public void PickExcept_CountsOpenConnections_LeastConnectionsWins()
    {
        var pool = Pool(2);
        var open = pool.PickExcept([])!; // held: one connection open on it
        for (var i = 0; i < 10; i++)
        {
            var next = pool.PickExcept([])!;
            Assert.NotSame(open, next);
            next.Release();
        }

        Assert.Equal(1, open.Outstanding);
    }

    [Fact]
    public void PickExcept_LeavesEjectedInstancesOut_AndPrefersTheLocalZone()
    {
        var pool = Pool(3, zone: "a", zoneOf: i => i == 0 ? "b" : "a");
        var local = pool.Instances.Where(s => s.IsLocalZone).ToList();
        pool.RecordFailure(local[0]); // EjectionFailures = 1: ejected (1 of 3 is within 50 %)

        for (var i = 0; i < 10; i++)
        {
            var picked = pool.PickExcept([])!;
            Assert.Same(local[1], picked);
            picked.Release();
        }

        var remote = pool.PickExcept([local[1]])!;
        Assert.False(remote.IsLocalZone);
    }
}

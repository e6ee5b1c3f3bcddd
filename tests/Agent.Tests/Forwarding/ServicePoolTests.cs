using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Discovery;
using Sidecar.Forwarding;
using Sidecar.Health;
using Sidecar.Tests.Fakes;

namespace Sidecar.Tests.Forwarding;

[Trait("Category", "Unit")]
public sealed class ServicePoolTests
{
    private readonly FakeTimeProvider _time = new();

    private ServicePool Pool(int instances, ServicePolicy? policy = null, string? zone = null, Func<int, string?>? zoneOf = null)
    {
        var pool = new ServicePool("orders", policy ?? new ServicePolicy(), zone, _time, new ForwardingLog(NullLogger<ForwardingLog>.Instance));
        var list = new ServiceInstance[instances];
        for (var i = 0; i < instances; i++)
        {
            list[i] = FakeServiceInstanceSource.Instance("orders", 1000 + i, InstanceStatus.Up, zoneOf?.Invoke(i));
        }

        pool.Update(list, 1);
        return pool;
    }

    private static void Fail(ServicePool pool, InstanceState state, int times)
    {
        for (var i = 0; i < times; i++)
        {
            pool.RecordFailure(state);
        }
    }

    private int Ejected(ServicePool pool) => pool.Instances.Count(s => s.IsEjected(_time.GetTimestamp()));

    [Fact]
    public void Pick_PrefersTheInstanceWithFewerRequestsInFlight()
    {
        var pool = Pool(2);
        var busy = pool.Instances[0];
        for (var i = 0; i < 5; i++)
        {
            busy.Acquire(0);
        }

        for (var i = 0; i < 20; i++)
        {
            var picked = pool.Pick(null)!;
            Assert.Same(pool.Instances[1], picked);
            picked.Release();
        }
    }

    [Fact]
    public void Pick_SkipsAnInstanceHeldByA429_UntilItsRetryAfter_CappedAtAMinute()
    {
        var pool = Pool(3);
        var held = pool.Instances[0];
        pool.Hold(held, TimeSpan.FromSeconds(30));

        Assert.DoesNotContain(PickMany(pool, 30), s => ReferenceEquals(s, held));
        Assert.Equal(0, held.ConsecutiveFailures); // a hold is no failure
        Assert.False(held.IsEjected(_time.GetTimestamp()));

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Contains(PickMany(pool, 30), s => ReferenceEquals(s, held));

        pool.Hold(held, TimeSpan.FromHours(2)); // a far Retry-After holds for MaxHold only
        _time.Advance(ServicePool.MaxHold - TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(PickMany(pool, 30), s => ReferenceEquals(s, held));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Contains(PickMany(pool, 30), s => ReferenceEquals(s, held));
    }

    [Fact]
    public void Pick_WhenEveryAvailableInstanceIsHeld_PicksAmongThemAnyway()
    {
        var pool = Pool(2);
        pool.Hold(pool.Instances[0], TimeSpan.FromSeconds(10));
        pool.Hold(pool.Instances[1], TimeSpan.FromSeconds(10));

        var picked = PickMany(pool, 20);

        Assert.Equal(20, picked.Count);
        Assert.Equal(2, picked.Distinct().Count());

        // An ejected instance stays out even then: a hold is weaker than an ejection.
        Fail(pool, pool.Instances[0], 5);
        Assert.All(PickMany(pool, 10), s => Assert.Same(pool.Instances[1], s));
    }

    private static List<InstanceState> PickMany(ServicePool pool, int count)
    {
        var picked = new List<InstanceState>();
        for (var i = 0; i < count; i++)
        {
            var state = pool.Pick(null)!;
            state.Release();
            picked.Add(state);
        }

        return picked;
    }

    [Fact]
    public void Pick_SkipsEjectedInstances_AndReturnsNullWhenThereAreNone()
    {
        var pool = Pool(2);
        Fail(pool, pool.Instances[0], 5);

        for (var i = 0; i < 10; i++)
        {
            Assert.Same(pool.Instances[1], pool.Pick(null));
        }

        Assert.Null(Pool(0).Pick(null));
    }

    [Fact]
    public void Ejection_NeedsConsecutiveFailures_ASuccessResetsTheCount()
    {
        var pool = Pool(2);
        var state = pool.Instances[0];

        Fail(pool, state, 4);
        ServicePool.RecordSuccess(state);
        Fail(pool, state, 4);
        Assert.Equal(0, Ejected(pool));

        pool.RecordFailure(state);
        Assert.Equal(1, Ejected(pool));
    }

    [Fact]
    public void Ejection_NeverTakesOutMoreThanHalfTheInstances()
    {
        var pool = Pool(3);
        foreach (var state in pool.Instances)
        {
            Fail(pool, state, 10);
        }

        Assert.Equal(1, Ejected(pool));

        var single = Pool(1);
        Fail(single, single.Instances[0], 50);
        Assert.Equal(0, Ejected(single));
    }

    [Fact]
    public void Ejection_GrowsWithEachEjection_UpToTheMaximum_AndResetsAfterALongHealthyStretch()
    {
        var pool = Pool(2, new ServicePolicy { EjectionTime = TimeSpan.FromSeconds(30), MaxEjectionTime = TimeSpan.FromSeconds(100) });
        var state = pool.Instances[0];
        var expected = new[] { 30, 60, 90, 100, 100 };

        foreach (var seconds in expected)
        {
            Fail(pool, state, 5);
            Assert.True(state.IsEjected(_time.GetTimestamp()));
            _time.Advance(TimeSpan.FromSeconds(seconds) - TimeSpan.FromMilliseconds(1));
            Assert.True(state.IsEjected(_time.GetTimestamp()), $"back before {seconds} s");
            _time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.False(state.IsEjected(_time.GetTimestamp()), $"still out after {seconds} s");
        }

        _time.Advance(TimeSpan.FromSeconds(100));
        Fail(pool, state, 5);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(state.IsEjected(_time.GetTimestamp()));
    }

    [Fact]
    public void Zones_TheLocalOnesAreUsedWhileAnyIsAvailable_ThenTheOthers()
    {
        var pool = Pool(4, zone: "z1", zoneOf: i => i < 2 ? "z1" : "z2");

        for (var i = 0; i < 20; i++)
        {
            var picked = pool.Pick(null)!;
            Assert.Equal("z1", picked.Instance.Zone);
            picked.Release();
        }

        Fail(pool, pool.Instances[0], 5);
        Assert.Equal("z1", pool.Pick(null)!.Instance.Zone);
        Fail(pool, pool.Instances[1], 5); // two of four: at most half may be out
        Assert.Equal("z2", pool.Pick(null)!.Instance.Zone);
    }

    [Fact]
    public void Update_KeepsWhatItLearnt_AboutInstancesThatStay()
    {
        var pool = Pool(2);
        var state = pool.Instances[0];
        Fail(pool, state, 5);

        pool.Update([state.Instance, pool.Instances[1].Instance, FakeServiceInstanceSource.Instance("orders", 2000)], 2);

        Assert.Equal(3, pool.Instances.Count);
        Assert.Contains(state, pool.Instances);
        Assert.True(state.IsEjected(_time.GetTimestamp()));
    }
}

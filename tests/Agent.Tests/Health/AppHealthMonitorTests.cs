using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Health;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Health;

public sealed class AppHealthMonitorTests
{
    private static readonly AppHealthOptions Options = new()
    {
        Url = new Uri("http://127.0.0.1:8080/health"),
        Interval = TimeSpan.FromSeconds(5),
        Timeout = TimeSpan.FromSeconds(2),
        FailureThreshold = 3,
    };

    private readonly TestClock _time = new(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
    private readonly List<(InstanceStatus From, InstanceStatus To)> _changes = [];

    private AppHealthMonitor Create(ScriptedProbe probe, AppHealthOptions? options = null)
    {
        var monitor = new AppHealthMonitor(options ?? Options, _time, NullLogger<AppHealthMonitor>.Instance, probe);
        monitor.StatusChanged += (_, e) => _changes.Add((e.Previous, e.Current.Status));
        return monitor;
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void BeforeAnyProbe_TheAppIsStarting()
    {
        var monitor = Create(new ScriptedProbe());

        Assert.Equal(InstanceStatus.Starting, monitor.Current.Status);
        Assert.Null(monitor.Current.LastProbeTime);
        Assert.True(monitor.Current.ProbeEnabled);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task FailuresBeforeTheFirstSuccess_StayStarting_UntilTheThreshold()
    {
        var monitor = Create(new ScriptedProbe().Then(ScriptedProbe.Fail()).Then(ScriptedProbe.Fail()).Then(ScriptedProbe.Fail()));

        Assert.Equal(InstanceStatus.Starting, (await monitor.ProbeOnceAsync(default)).Status);
        Assert.Equal(InstanceStatus.Starting, (await monitor.ProbeOnceAsync(default)).Status);
        var third = await monitor.ProbeOnceAsync(default);

        Assert.Equal(InstanceStatus.Down, third.Status);
        Assert.Equal(3, third.ConsecutiveFailures);
        Assert.Equal([(InstanceStatus.Starting, InstanceStatus.Down)], _changes);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task AFailedProbe_IsLoggedWithTheFailuresInARowAndTheThreshold_PastTheThresholdToo()
    {
        using var logs = new LogCapture();
        var probe = new ScriptedProbe { Otherwise = _ => Task.FromResult(ScriptedProbe.Fail(code: null)) };
        var monitor = new AppHealthMonitor(Options, _time, new Logger<AppHealthMonitor>(logs), probe);
        for (var i = 0; i < 4; i++)
        {
            await monitor.ProbeOnceAsync(default);
        }

        var lines = logs.Entries.Where(e => e.Contains("[102]", StringComparison.Ordinal))
            .Select(e => e[e.IndexOf("App health", StringComparison.Ordinal)..e.IndexOf(" {", StringComparison.Ordinal)]).ToList();
        Assert.Equal(
            [
                "App health probe failed: connection refused (1 in a row, threshold 3)",
                "App health probe failed: connection refused (2 in a row, threshold 3)",
                "App health probe failed: connection refused (3 in a row, threshold 3)",
                "App health probe failed: connection refused (4 in a row, threshold 3)", // was "(4/3)"
            ],
            lines);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task TheFirstSuccess_BringsUp()
    {
        var monitor = Create(new ScriptedProbe().Then(ScriptedProbe.Ok()));

        var snapshot = await monitor.ProbeOnceAsync(default);

        Assert.Equal(InstanceStatus.Up, snapshot.Status);
        Assert.Equal(_time.GetUtcNow(), snapshot.LastProbeTime);
        Assert.Equal("200 OK", snapshot.LastResult?.Detail);
        Assert.Equal([(InstanceStatus.Starting, InstanceStatus.Up)], _changes);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task WhenUp_FailuresBelowTheThreshold_KeepUp_AndTheThresholdBringsDown()
    {
        var monitor = Create(new ScriptedProbe().Then(ScriptedProbe.Ok()).Then(ScriptedProbe.Fail()).Then(ScriptedProbe.Fail(null)).Then(ScriptedProbe.Fail()));
        await monitor.ProbeOnceAsync(default);

        Assert.Equal(InstanceStatus.Up, (await monitor.ProbeOnceAsync(default)).Status);
        var second = await monitor.ProbeOnceAsync(default);
        Assert.Equal(InstanceStatus.Up, second.Status);
        Assert.Equal(2, second.ConsecutiveFailures);
        Assert.Equal(InstanceStatus.Down, (await monitor.ProbeOnceAsync(default)).Status);
        Assert.Equal([(InstanceStatus.Starting, InstanceStatus.Up), (InstanceStatus.Up, InstanceStatus.Down)], _changes);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task ASuccessBetweenFailures_ResetsTheCount()
    {
        var monitor = Create(new ScriptedProbe()
            .Then(ScriptedProbe.Ok()).Then(ScriptedProbe.Fail()).Then(ScriptedProbe.Fail())
            .Then(ScriptedProbe.Ok()).Then(ScriptedProbe.Fail()).Then(ScriptedProbe.Fail()));

        for (var i = 0; i < 6; i++)
        {
            await monitor.ProbeOnceAsync(default);
        }

        Assert.Equal(InstanceStatus.Up, monitor.Current.Status);
        Assert.Equal(2, monitor.Current.ConsecutiveFailures);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task WhenDown_OneSuccess_BringsUpAgain()
    {
        var monitor = Create(new ScriptedProbe().Then(ScriptedProbe.Fail()).Then(ScriptedProbe.Fail()).Then(ScriptedProbe.Fail()).Then(ScriptedProbe.Ok()));
        for (var i = 0; i < 3; i++)
        {
            await monitor.ProbeOnceAsync(default);
        }

        _time.Advance(TimeSpan.FromSeconds(7));
        var recovered = await monitor.ProbeOnceAsync(default);

        Assert.Equal(InstanceStatus.Up, recovered.Status);
        Assert.Equal(0, recovered.ConsecutiveFailures);
        Assert.Equal(_time.GetUtcNow(), recovered.Since);
        Assert.Equal(InstanceStatus.Down, _changes[0].To);
        Assert.Equal((InstanceStatus.Down, InstanceStatus.Up), _changes[1]);
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("DOWN")]
    [InlineData("OUT_OF_SERVICE")]
    public async Task AStatusTheAppDeclares_AppliesAtOnce(string wire)
    {
        Assert.True(InstanceStatusNames.TryParse(wire, out var declared));
        var monitor = Create(new ScriptedProbe().Then(ScriptedProbe.Ok()).Then(ScriptedProbe.Ok(declared)));
        await monitor.ProbeOnceAsync(default);

        var snapshot = await monitor.ProbeOnceAsync(default);

        Assert.Equal(declared, snapshot.Status);
        Assert.Equal((InstanceStatus.Up, declared), _changes[^1]);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task ADeclaredUpOnAFailingAnswer_IsStillAFailure()
    {
        var monitor = Create(new ScriptedProbe().Then(new ProbeResult(false, InstanceStatus.Up, 500, "500", TimeSpan.Zero)), Options with { FailureThreshold = 1 });

        Assert.Equal(InstanceStatus.Down, (await monitor.ProbeOnceAsync(default)).Status);
    }

    [Fact]
    public async Task AProbeThatHangs_TimesOutAtTheProbeTimeout_AndCountsAsAFailure()
    {
        var monitor = Create(new ScriptedProbe().ThenHang(), Options with { FailureThreshold = 1 });

        var probing = monitor.ProbeOnceAsync(default);
        await _time.WaitForArmedAsync(d => d == TimeSpan.FromSeconds(2), 1, "the probe's time-out is armed");
        var fired = _time.Fired;
        _time.Advance(TimeSpan.FromMilliseconds(1999)); // timers due by then fire inside Advance: the time-out's did not
        Assert.Equal(fired, _time.Fired);
        Assert.False(probing.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var snapshot = await probing.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(InstanceStatus.Down, snapshot.Status);
        Assert.Equal("timed out after 2s", snapshot.LastResult?.Detail);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task AProbeThatThrows_IsAFailure_NotACrash()
    {
        var probe = new ScriptedProbe { Otherwise = _ => throw new InvalidOperationException("boom") };
        var monitor = Create(probe, Options with { FailureThreshold = 1 });

        var snapshot = await monitor.ProbeOnceAsync(default);

        Assert.Equal(InstanceStatus.Down, snapshot.Status);
        Assert.Equal("probe error: boom", snapshot.LastResult?.Detail);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task ASubscriberThatThrows_DoesNotStopTheOthers()
    {
        var monitor = Create(new ScriptedProbe().Then(ScriptedProbe.Ok()));
        var seen = 0;
        monitor.StatusChanged += (_, _) => throw new InvalidOperationException("bad subscriber");
        monitor.StatusChanged += (_, _) => seen++;

        await monitor.ProbeOnceAsync(default);

        Assert.Equal(1, seen);
        Assert.Single(_changes);
    }

    [Fact]
    public async Task WithoutAHealthUrl_TheAppIsAlwaysUp_AndNothingIsProbed()
    {
        var probe = new ScriptedProbe();
        var monitor = Create(probe, Options with { Url = null, DisabledReason = "APP_HEALTH_URL is empty" });

        await monitor.StartAsync(default);
        await monitor.ProbeOnceAsync(default);
        _time.Advance(TimeSpan.FromMinutes(1));
        await monitor.StopAsync(default);

        Assert.Equal(InstanceStatus.Up, monitor.Current.Status);
        Assert.False(monitor.Current.ProbeEnabled);
        Assert.Equal(0, probe.Calls);
    }

    [Fact]
    public async Task TheLoop_ProbesAtStart_ThenEveryInterval()
    {
        var probe = new ScriptedProbe();
        var monitor = Create(probe);

        await monitor.StartAsync(default);
        await Eventually.TrueAsync(() => probe.Calls == 1, "the first probe ran at start");
        await _time.WaitForArmedAsync(d => d == TimeSpan.FromSeconds(5), 1, "the loop waits for its next tick");
        // The interval's timer is armed before the first probe (start to start); the probe's own time-out
        // timer lives until the probe has returned: wait until it is let go.
        await Eventually.TrueAsync(() => _time.Armed(d => d < TimeSpan.FromSeconds(5)) == 0, "the first probe's time-out timer is let go");
        var fired = _time.Fired;
        _time.Advance(TimeSpan.FromSeconds(4)); // timers due by then fire inside Advance: the interval's did not
        Assert.Equal(fired, _time.Fired);
        Assert.Equal(1, probe.Calls);
        _time.Advance(TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(() => probe.Calls == 2, "the second probe ran one interval later");
        _time.Advance(TimeSpan.FromSeconds(5));
        await Eventually.TrueAsync(() => probe.Calls == 3, "the third probe ran one more interval later");
        await monitor.StopAsync(default);

        Assert.Equal(InstanceStatus.Up, monitor.Current.Status);
    }
}

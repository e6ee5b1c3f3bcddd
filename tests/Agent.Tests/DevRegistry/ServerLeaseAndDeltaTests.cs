using Sidecar.DevRegistry;
using Sidecar.Discovery;
using static Sidecar.Tests.DevRegistry.EurekaServerRulesTests;

namespace Sidecar.Tests.DevRegistry;

/// <summary>
/// A lease on the dev registry's server (<see cref="ServerLease"/>: duration, expiry, first UP, what answers
/// show) and the delta queue (<see cref="DeltaQueue"/>: retention, the latest change per instance), as tables.
/// Times are Unix milliseconds given by the test; no clock.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ServerLeaseAndDeltaTests
{
    private const long T0 = 1_000_000;

    private static readonly EurekaInstanceInfo Instance = new()
    {
        InstanceId = "i-1",
        App = "ORDERS",
        HostName = "host-1",
        IpAddr = "10.0.0.1",
    };

    [Theory]
    //          asked (s)  renewed at (ms after T0)  now (ms after T0)  expired
    [InlineData(90,        0L,                       90_000L,           false)] // exactly the duration: still held
    [InlineData(90,        0L,                       90_001L,           true)]
    [InlineData(0,         0L,                       90_000L,           false)] // no duration asked: 90 s
    [InlineData(0,         0L,                       90_001L,           true)]
    [InlineData(-5,        0L,                       90_001L,           true)]
    [InlineData(5,         0L,                       5_001L,            true)]
    [InlineData(5,         4_000L,                   9_000L,            false)] // a renew moves the expiry
    [InlineData(5,         4_000L,                   9_001L,            true)]
    public void IsExpired_AfterTheDurationSinceTheLastRenewal(int askedSeconds, long renewedAfter, long nowAfter, bool expired)
    {
        var lease = ServerLease.Register(Instance with { LeaseInfo = new EurekaLeaseInfo { DurationInSecs = askedSeconds } }, Status("UP"), null, T0);
        if (renewedAfter > 0)
        {
            lease.Renew(T0 + renewedAfter);
        }

        Assert.Equal(expired, lease.IsExpired(T0 + nowAfter));
    }

    [Theory]
    //          existing first UP (ms after T0; null: no lease)  status     first UP after (ms after T0; 0: never)
    [InlineData(null,                                          "UP",       1_000L)]
    [InlineData(null,                                          "STARTING", 0L)]
    [InlineData(-1L,                                           "DOWN",     0L)]    // the lease it replaces was never UP
    [InlineData(-1L,                                           "UP",       1_000L)]
    [InlineData(500L,                                          "DOWN",     500L)]  // the first UP is kept
    [InlineData(500L,                                          "UP",       500L)]
    public void Register_KeepsTheFirstUpOfTheLeaseItReplaces(long? existingUp, string status, long expectedUp)
    {
        ServerLease? existing = null;
        if (existingUp is { } up)
        {
            var startsAs = up < 0 ? "STARTING" : "UP";
            existing = ServerLease.Register(Instance, Status(startsAs), null, up < 0 ? T0 : T0 + up);
        }

        var lease = ServerLease.Register(Instance, Status(status), existing, T0 + 1_000);

        Assert.Equal(expectedUp == 0 ? 0 : T0 + expectedUp, lease.ServiceUpTimestamp);
        Assert.Equal(T0 + 1_000, lease.RegistrationTimestamp);
        Assert.Equal(Status(status), lease.Holder.Status);
        Assert.Equal(EurekaActionType.Added, lease.Holder.ActionType);
    }

    [Theory]
    //          registrant's lastDirtyTimestamp  held
    [InlineData(0L,                              T0)]      // none sent: the time of the registration
    [InlineData(42L,                             42L)]
    public void Register_DirtyTimestampIsTheRegistrantsOrNow(long sent, long held)
    {
        var lease = ServerLease.Register(Instance with { LastDirtyTimestamp = sent }, Status("UP"), null, T0);

        Assert.Equal(held, lease.Holder.LastDirtyTimestamp);
        Assert.Equal(T0, lease.Holder.LastUpdatedTimestamp);
    }

    [Theory]
    //          registered as  set to            override after  first UP after (ms after T0; 0: never)
    [InlineData("STARTING",    "UP",             "UP",           2_000L)]
    [InlineData("STARTING",    "OUT_OF_SERVICE", "OUT_OF_SERVICE", 0L)]
    [InlineData("UP",          "OUT_OF_SERVICE", "OUT_OF_SERVICE", 0L)]
    [InlineData("OUT_OF_SERVICE", "UNKNOWN",     "UNKNOWN",      0L)]
    public void SetStatus_IsAModification(string registeredAs, string setTo, string overridden, long expectedUp)
    {
        var lease = ServerLease.Register(Instance with { LastDirtyTimestamp = 7 }, Status(registeredAs), null, T0);

        lease.SetStatus(T0 + 2_000, 5, Status(setTo), Status(overridden));

        Assert.Equal(Status(setTo), lease.Holder.Status);
        Assert.Equal(Status(overridden), lease.Holder.OverriddenStatus);
        Assert.Equal(EurekaActionType.Modified, lease.Holder.ActionType);
        Assert.Equal(T0 + 2_000, lease.Holder.LastUpdatedTimestamp);
        Assert.Equal(7, lease.Holder.LastDirtyTimestamp); // the client's 5 is older
        var expected = registeredAs == "UP" ? T0 : expectedUp == 0 ? 0 : T0 + expectedUp;
        Assert.Equal(expected, lease.ServiceUpTimestamp);
    }

    [Fact]
    public void Shown_CarriesTheLeasesTimestamps_AndEvictMarksItDeleted()
    {
        var lease = ServerLease.Register(Instance with { LeaseInfo = new EurekaLeaseInfo { DurationInSecs = 30, RenewalIntervalInSecs = 10 } }, Status("UP"), null, T0);
        lease.Renew(T0 + 10_000);
        lease.Evict(T0 + 50_000);

        var shown = lease.Shown();

        Assert.Equal(30, shown.LeaseInfo.DurationInSecs);
        Assert.Equal(10, shown.LeaseInfo.RenewalIntervalInSecs);
        Assert.Equal(T0, shown.LeaseInfo.RegistrationTimestamp);
        Assert.Equal(T0 + 10_000, shown.LeaseInfo.LastRenewalTimestamp);
        Assert.Equal(T0, shown.LeaseInfo.ServiceUpTimestamp);
        Assert.Equal(T0 + 50_000, shown.LeaseInfo.EvictionTimestamp);
        Assert.Equal(EurekaActionType.Deleted, shown.ActionType);
        Assert.Equal(T0 + 50_000, shown.LastUpdatedTimestamp);
    }

    [Theory]
    // Each change is "app/id:ACTION@seconds"; the delta lists "app[id:ACTION,...]" per application.
    [InlineData("",                                                        "")]
    [InlineData("A/1:ADDED@0",                                             "A[1:ADDED]")]
    [InlineData("A/1:ADDED@0 A/1:MODIFIED@1",                              "A[1:MODIFIED]")]
    [InlineData("A/1:ADDED@0 A/2:ADDED@1 A/1:MODIFIED@2",                  "A[2:ADDED,1:MODIFIED]")]
    [InlineData("A/1:ADDED@0 B/1:ADDED@1",                                 "A[1:ADDED] B[1:ADDED]")]
    [InlineData("A/1:ADDED@0 B/1:ADDED@1 A/1:DELETED@2",                   "B[1:ADDED] A[1:DELETED]")]
    [InlineData("A/1:ADDED@0 B/2:ADDED@1 A/3:ADDED@2",                     "A[1:ADDED,3:ADDED] B[2:ADDED]")]
    public void Latest_IsEachInstanceOnceInItsLatestState(string changes, string delta)
    {
        var queue = new DeltaQueue(TimeSpan.FromMinutes(3));
        foreach (var (at, instance) in Parse(changes))
        {
            queue.Add(at, instance);
        }

        Assert.Equal(delta, Describe(queue.Latest()));
    }

    [Theory]
    //          retention (s)  changes at (s)     now (s)  left
    [InlineData(180,           "0 60 120",        180,     "A[0:ADDED,60:ADDED,120:ADDED]")] // exactly the window: kept
    [InlineData(180,           "0 60 120",        181,     "A[60:ADDED,120:ADDED]")]
    [InlineData(180,           "0 60 120",        400,     "")]
    [InlineData(10,            "0 5",             12,      "A[5:ADDED]")]
    public void Expire_DropsChangesOlderThanTheRetention(int retentionSeconds, string changesAt, int nowSeconds, string left)
    {
        var queue = new DeltaQueue(TimeSpan.FromSeconds(retentionSeconds));
        foreach (var at in changesAt.Split(' '))
        {
            queue.Add(T0 + (long.Parse(at, System.Globalization.CultureInfo.InvariantCulture) * 1000), Instance with { App = "A", InstanceId = at, ActionType = EurekaActionType.Added });
        }

        queue.Expire(T0 + (nowSeconds * 1000L));

        Assert.Equal(left, Describe(queue.Latest()));
        Assert.Equal(left.Length == 0 ? 0 : left.Split(',').Length, queue.Count);
    }

    private static IEnumerable<(long At, EurekaInstanceInfo Instance)> Parse(string changes)
    {
        foreach (var change in changes.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var (what, at) = (change.Split('@')[0], change.Split('@')[1]);
            var (appId, action) = (what.Split(':')[0], what.Split(':')[1]);
            var actionType = Enum.Parse<EurekaActionType>(action, ignoreCase: true);
            yield return (T0 + (long.Parse(at, System.Globalization.CultureInfo.InvariantCulture) * 1000),
                Instance with { App = appId.Split('/')[0], InstanceId = appId.Split('/')[1], ActionType = actionType });
        }
    }

    private static string Describe(IEnumerable<EurekaApplication> apps) => string.Join(' ', apps.Select(app =>
        $"{app.Name}[{string.Join(',', app.Instances.Select(i => $"{i.InstanceId}:{i.ActionType.ToString()!.ToUpperInvariant()}"))}]"));
}

using Sidecar.Eureka;

namespace Sidecar.DevRegistry;

/// <summary>
/// One instance's lease on the dev registry or the tests' fake Eureka
/// (docs/eureka.md#server-rules-dev-registry-and-fake): the instance as registered, and the lease's
/// timestamps (registered, last renewed, first UP, evicted), in Unix milliseconds. Its rules (the
/// duration a registration asks for, expiry, the first UP, the instance as answers show it) have no
/// I/O; <see cref="EurekaServerRegistry"/> holds the leases under its lock.
/// </summary>
internal sealed class ServerLease
{
    /// <summary>The lease duration when the registrant asks for none: 90 seconds, as Netflix's.</summary>
    public const int DefaultDurationSeconds = 90;

    /// <summary>The instance as held, without the lease's timestamps (<see cref="Shown"/> adds them).</summary>
    public EurekaInstanceInfo Holder { get; set; } = new();

    public int DurationSeconds { get; init; }

    public long RegistrationTimestamp { get; init; }

    public long LastRenewalTimestamp { get; private set; }

    public long ServiceUpTimestamp { get; private set; }

    public long EvictionTimestamp { get; private set; }

    /// <summary>
    /// The lease a registration makes at <paramref name="now"/>: the duration the registrant asks for
    /// (90 seconds when none), the first-UP time carried over from the lease it replaces, the instance
    /// with its resolved status as ADDED, its lastDirtyTimestamp the registrant's (now when it sends none).
    /// </summary>
    public static ServerLease Register(EurekaInstanceInfo registrant, InstanceStatus status, ServerLease? existing, long now)
    {
        var lease = new ServerLease
        {
            DurationSeconds = registrant.LeaseInfo.DurationInSecs > 0 ? registrant.LeaseInfo.DurationInSecs : DefaultDurationSeconds,
            RegistrationTimestamp = now,
            LastRenewalTimestamp = now,
            ServiceUpTimestamp = existing?.ServiceUpTimestamp ?? 0,
        };
        lease.NoteStatus(status, now);
        lease.Holder = registrant with
        {
            Status = status,
            ActionType = EurekaActionType.Added,
            LastUpdatedTimestamp = now,
            LastDirtyTimestamp = registrant.LastDirtyTimestamp > 0 ? registrant.LastDirtyTimestamp : now,
        };
        return lease;
    }

    /// <summary>Not renewed within its duration: the lease goes (no self-preservation here).</summary>
    public bool IsExpired(long now) => now > LastRenewalTimestamp + (DurationSeconds * 1000L);

    public void Renew(long now) => LastRenewalTimestamp = now;

    /// <summary>A status change through the override API: MODIFIED, with the newer lastDirtyTimestamp.</summary>
    public void SetStatus(long now, long? lastDirtyTimestamp, InstanceStatus status, InstanceStatus overridden)
    {
        var holder = Holder;
        Holder = holder with
        {
            Status = status,
            OverriddenStatus = overridden,
            LastDirtyTimestamp = EurekaStatusRules.DirtyAfterStatusCall(lastDirtyTimestamp, holder.LastDirtyTimestamp),
            ActionType = EurekaActionType.Modified,
            LastUpdatedTimestamp = now,
        };
        NoteStatus(status, now);
    }

    /// <summary>Cancelled or expired: DELETED, with the eviction time.</summary>
    public void Evict(long now)
    {
        EvictionTimestamp = now;
        Holder = Holder with { ActionType = EurekaActionType.Deleted, LastUpdatedTimestamp = now };
    }

    /// <summary>The instance as answers show it: with the lease's timestamps.</summary>
    public EurekaInstanceInfo Shown() => Holder with
    {
        LeaseInfo = Holder.LeaseInfo with
        {
            DurationInSecs = DurationSeconds,
            RegistrationTimestamp = RegistrationTimestamp,
            LastRenewalTimestamp = LastRenewalTimestamp,
            EvictionTimestamp = EvictionTimestamp,
            ServiceUpTimestamp = ServiceUpTimestamp,
        },
    };

    // The service-up time is the first time the lease is UP, kept from then on.
    private void NoteStatus(InstanceStatus status, long now)
    {
        if (status == InstanceStatus.Up && ServiceUpTimestamp == 0)
        {
            ServiceUpTimestamp = now;
        }
    }
}

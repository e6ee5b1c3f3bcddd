namespace Sidecar.Registration;

/// <summary>
/// A token bucket for status updates, as Netflix's InstanceInfoReplicator limits its on-demand updates
/// (burst 2, 4 per minute): a flapping app cannot flood Eureka, while the first changes still go out at
/// once. Immutable: <see cref="TryTake"/> gives the bucket as it is afterwards, so the lease's state
/// (<see cref="LeaseState"/>) holds it as a value.
/// </summary>
internal sealed record StatusUpdateRateLimiter
{
    private readonly int _burst;

    // In ticks of refill time, not fractions of a token: asking often (at every renew while a change
    // waits) must not add up rounding errors that put the next token a little after the time promised.
    private readonly long _refillTicks;
    private readonly long _filledTicks;
    private readonly DateTimeOffset _updated;

    /// <summary>A full bucket at <paramref name="now"/>.</summary>
    public StatusUpdateRateLimiter(int burst, int perMinute, DateTimeOffset now)
        : this(burst, (TimeSpan.FromMinutes(1) / perMinute).Ticks, burst * (TimeSpan.FromMinutes(1) / perMinute).Ticks, now)
    {
    }

    private StatusUpdateRateLimiter(int burst, long refillTicks, long filledTicks, DateTimeOffset updated)
    {
        _burst = burst;
        _refillTicks = refillTicks;
        _filledTicks = filledTicks;
        _updated = updated;
    }

    /// <summary>Takes a token if one is there; otherwise says when the next one will be. <paramref name="after"/> is the bucket afterwards (refilled up to now either way).</summary>
    public bool TryTake(DateTimeOffset now, out StatusUpdateRateLimiter after, out DateTimeOffset nextAt)
    {
        var elapsed = Math.Max(0, (now - _updated).Ticks);
        var filled = Math.Min(_burst * _refillTicks, _filledTicks + elapsed);
        if (filled >= _refillTicks)
        {
            after = new StatusUpdateRateLimiter(_burst, _refillTicks, filled - _refillTicks, now);
            nextAt = now;
            return true;
        }

        after = new StatusUpdateRateLimiter(_burst, _refillTicks, filled, now);
        nextAt = now + TimeSpan.FromTicks(_refillTicks - filled);
        return false;
    }
}

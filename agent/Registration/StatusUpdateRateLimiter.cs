namespace Sidecar.Registration;

/// <summary>
/// A token bucket for health-driven status updates, as Netflix's InstanceInfoReplicator limits its
/// on-demand updates (burst 2, 4 per minute): a flapping app cannot flood Eureka, while the first
/// changes still go out at once. Not thread-safe: the registration loop owns it.
/// </summary>
internal sealed class StatusUpdateRateLimiter(int burst, int perMinute, TimeProvider time)
{
    // In ticks of refill time, not fractions of a token: asking often (at every renew while a change
    // waits) must not add up rounding errors that put the next token a little after the time promised.
    private readonly long _refillTicks = (TimeSpan.FromMinutes(1) / perMinute).Ticks;
    private long _filledTicks = burst * (TimeSpan.FromMinutes(1) / perMinute).Ticks;
    private DateTimeOffset _updated = time.GetUtcNow();

    /// <summary>Takes a token if one is there; otherwise says when the next one will be.</summary>
    public bool TryTake(out DateTimeOffset nextAt)
    {
        var now = time.GetUtcNow();
        var elapsed = Math.Max(0, (now - _updated).Ticks);
        _filledTicks = Math.Min(burst * _refillTicks, _filledTicks + elapsed);
        _updated = now;
        if (_filledTicks >= _refillTicks)
        {
            _filledTicks -= _refillTicks;
            nextAt = now;
            return true;
        }

        nextAt = now + TimeSpan.FromTicks(_refillTicks - _filledTicks);
        return false;
    }
}

namespace Sidecar.Registration;

/// <summary>
/// A token bucket for health-driven status updates, as Netflix's InstanceInfoReplicator limits its
/// on-demand updates (burst 2, 4 per minute): a flapping app cannot flood Eureka, while the first
/// changes still go out at once. Not thread-safe: the registration loop owns it.
/// </summary>
internal sealed class StatusUpdateRateLimiter(int burst, int perMinute, TimeProvider time)
{
    private readonly TimeSpan _refill = TimeSpan.FromMinutes(1) / perMinute;
    private double _tokens = burst;
    private DateTimeOffset _updated = time.GetUtcNow();

    /// <summary>Takes a token if one is there; otherwise says when the next one will be.</summary>
    public bool TryTake(out DateTimeOffset nextAt)
    {
        var now = time.GetUtcNow();
        _tokens = Math.Min(burst, _tokens + ((now - _updated) / _refill));
        _updated = now;
        if (_tokens >= 1)
        {
            _tokens -= 1;
            nextAt = now;
            return true;
        }

        nextAt = now + ((1 - _tokens) * _refill);
        return false;
    }
}

namespace Sidecar.Forwarding;

/// <summary>
/// The rate limit of one service (docs/resilience.md#rate-limit): a token bucket that holds up to
/// <c>burst</c> calls and refills at <c>rate</c> per second, read from the pool's <see cref="TimeProvider"/>.
/// Written by hand rather than with <c>System.Threading.RateLimiting.TokenBucketRateLimiter</c>: that one
/// refills from a timer of its own (one per service, running until it is disposed, while a pool is
/// dropped without disposal when its service leaves) and reads the Stopwatch, not a TimeProvider, so
/// neither the sweep nor the tests' FakeTimeProvider could drive it. This one keeps no timer: it
/// refills, lazily, when a call asks.
/// </summary>
internal sealed class TokenBucket
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly double _rate;
    private readonly double _burst;
    private double _tokens;
    private long _last;

    public TokenBucket(int rate, int burst, TimeProvider time)
    {
        _time = time;
        _rate = rate;
        _burst = burst;
        _tokens = burst;
        _last = time.GetTimestamp();
    }

    /// <summary>Takes one token; when none is left, false and how long until one is.</summary>
    public bool TryTake(out TimeSpan retryAfter)
    {
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            var elapsed = (now - _last) / (double)_time.TimestampFrequency;
            if (elapsed > 0)
            {
                _tokens = Math.Min(_burst, _tokens + (elapsed * _rate));
                _last = now;
            }

            if (_tokens >= 1)
            {
                _tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - _tokens) / _rate);
            return false;
        }
    }
}

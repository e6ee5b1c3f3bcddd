namespace Sidecar.Forwarding;

/// <summary>
/// Caps retries at a share of requests, as Finagle's RetryBudget and Envoy's retry_budget do, so a
/// failing service is not hit by three times its normal traffic: every request deposits
/// <c>percent/100</c> of a token, every retry withdraws one, and <c>minPerSecond</c> tokens per second
/// are added regardless of traffic so a quiet service can still retry. The balance is capped at ten
/// seconds' worth of the minimum (Finagle keeps deposits for 10 s). Lock-free: one CAS per call.
/// </summary>
internal sealed class RetryBudget
{
    // Milli-tokens: integers keep the arithmetic exact and the updates atomic.
    private const long TokenCost = 1000;

    private readonly TimeProvider _time;
    private readonly long _deposit;
    private readonly long _refillPerSecond;
    private readonly long _capacity;
    private long _balance;
    private long _lastRefill;

    public RetryBudget(int percent, int minPerSecond, TimeProvider time)
    {
        _time = time;
        _deposit = percent * TokenCost / 100;
        _refillPerSecond = minPerSecond * TokenCost;
        _capacity = Math.Max(10 * _refillPerSecond, 10 * TokenCost);
        _balance = 10 * _refillPerSecond;
        _lastRefill = time.GetTimestamp();
    }

    /// <summary>Whole retries available now (for tests and diagnostics).</summary>
    public long Available => Volatile.Read(ref _balance) / TokenCost;

    /// <summary>Called once per request (not per attempt).</summary>
    public void Deposit()
    {
        if (_deposit == 0 || Volatile.Read(ref _balance) >= _capacity)
        {
            return;
        }

        Add(_deposit);
    }

    /// <summary>Takes one retry from the budget; false when it is spent.</summary>
    public bool TryWithdraw()
    {
        Refill();
        while (true)
        {
            var balance = Volatile.Read(ref _balance);
            if (balance < TokenCost)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _balance, balance - TokenCost, balance) == balance)
            {
                return true;
            }
        }
    }

    private void Refill()
    {
        if (_refillPerSecond == 0)
        {
            return;
        }

        var now = _time.GetTimestamp();
        var last = Volatile.Read(ref _lastRefill);
        var earned = (long)((now - last) * (double)_refillPerSecond / _time.TimestampFrequency);
        if (earned > 0 && Interlocked.CompareExchange(ref _lastRefill, now, last) == last)
        {
            Add(earned);
        }
    }

    private void Add(long amount)
    {
        while (true)
        {
            var balance = Volatile.Read(ref _balance);
            var next = Math.Min(_capacity, balance + amount);
            if (next <= balance || Interlocked.CompareExchange(ref _balance, next, balance) == balance)
            {
                return;
            }
        }
    }
}

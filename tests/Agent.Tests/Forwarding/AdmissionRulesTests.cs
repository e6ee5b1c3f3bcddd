using Microsoft.Extensions.Time.Testing;
using Sidecar.Forwarding;

namespace Sidecar.Tests.Forwarding;

/// <summary>The token bucket and the circuit breaker on their own, driven by a FakeTimeProvider (docs/resilience.md).</summary>
[Trait("Category", "Unit")]
public sealed class AdmissionRulesTests
{
    /// <summary>Steps: "+" a call that must pass, "-" one that must be refused, a number: milliseconds that pass.</summary>
    public static TheoryData<int, int, string> Buckets() => new()
    {
        { 5, 5, "+ + + + + -" },
        { 5, 5, "+ + + + + - 200 + - 1000 + + + + + -" },
        { 2, 4, "+ + + + - 499 - 1 + -" },
        { 10, 1, "+ - 100 + - 50 -" },
        { 1, 1, "+ - 999 - 1 +" },
    };

    [Theory]
    [MemberData(nameof(Buckets))]
    public void TokenBucket_PassesAndRefusesAsTheRateAndBurstSay(int rate, int burst, string steps)
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(rate, burst, time);
        var step = 0;
        foreach (var token in steps.Split(' '))
        {
            step++;
            if (int.TryParse(token, out var ms))
            {
                time.Advance(TimeSpan.FromMilliseconds(ms));
                continue;
            }

            var passed = bucket.TryTake(out var retryAfter);
            Assert.True(passed == (token == "+"), $"step {step} ({token}) of '{steps}'");
            if (!passed)
            {
                Assert.InRange(retryAfter, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(1.0 / rate));
            }
        }
    }

    /// <summary>
    /// Steps: "s" a success, "f" a failure, "a" a call that must be admitted, "r" one that must be refused,
    /// "t" the trial's end, a number: milliseconds that pass; then the state expected at the end.
    /// </summary>
    public static TheoryData<string, string> Breakers() => new()
    {
        // Minimum throughput 4, ratio 0.5, window 10 s, break 5 s.
        { "f f f", "Closed" },                 // under the minimum throughput
        { "f f f f", "Open" },
        { "s s f f", "Open" },                 // 2 of 4 is the ratio
        { "s s s f f", "Closed" },             // 2 of 5 is under it
        { "f f f f r 4999 r", "Open" },
        { "f f f f 5000 a r", "HalfOpen" },    // one trial, the others wait
        { "f f f f 5000 a s a", "Closed" },
        { "f f f f 5000 a f r", "Open" },
        { "f f f f 5000 a f 5000 a", "HalfOpen" },
        { "f f f f 5000 a t a", "HalfOpen" },  // a trial that told nothing: the next call is the trial
        { "f f 10000 f f", "Closed" },         // the first two left the window
        { "f f 9000 f f", "Open" },
        { "f f f f 5000 a s f f f", "Closed" }, // closing forgets the window
    };

    [Theory]
    [MemberData(nameof(Breakers))]
    public void CircuitBreaker_FollowsItsStates(string steps, string expectedState)
    {
        var expected = Enum.Parse<CircuitState>(expectedState);
        var time = new FakeTimeProvider();
        var changes = new List<CircuitState>();
        var breaker = new CircuitBreaker(new ResiliencePolicy { CircuitBreaker = true, CircuitBreakerMinimumThroughput = 4 }, time, changes.Add);
        foreach (var token in steps.Split(' '))
        {
            switch (token)
            {
                case "s":
                    breaker.RecordSuccess();
                    break;
                case "f":
                    breaker.RecordFailure();
                    break;
                case "a":
                    Assert.True(breaker.TryAdmit(out _, out _), $"'{steps}': admitted");
                    break;
                case "r":
                    Assert.False(breaker.TryAdmit(out var retryAfter, out _), $"'{steps}': refused");
                    Assert.InRange(retryAfter, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(5));
                    break;
                case "t":
                    breaker.EndTrial();
                    break;
                default:
                    time.Advance(TimeSpan.FromMilliseconds(int.Parse(token, System.Globalization.CultureInfo.InvariantCulture)));
                    break;
            }
        }

        Assert.Equal(expected, breaker.State);
        Assert.Equal(expected, changes.Count == 0 ? CircuitState.Closed : changes[^1]);
    }

    /// <summary>Steps: "+" a call that must get a slot, "-" one that must be refused, "x" a call that ends; then the calls in flight.</summary>
    [Theory]
    [InlineData(1, "+ - x + -", 1)]
    [InlineData(2, "+ + - - x + - x x", 0)]
    [InlineData(3, "+ + + - x x x + +", 2)]
    public void BulkheadSlots_GiveAtMostTheLimit(int limit, string steps, int inFlight)
    {
        var slots = new BulkheadSlots(limit);
        foreach (var token in steps.Split(' '))
        {
            if (token == "x")
            {
                slots.Exit();
            }
            else
            {
                Assert.True(slots.TryEnter() == (token == "+"), $"'{steps}': {token}");
            }

            Assert.InRange(slots.InFlight, 0, limit);
        }

        Assert.Equal(inFlight, slots.InFlight);
    }

    [Fact]
    public async Task BulkheadSlots_UnderContention_NeverGiveMoreThanTheLimit()
    {
        var slots = new BulkheadSlots(3);
        var holding = 0;
        var most = 0;
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                if (slots.TryEnter())
                {
                    var now = Interlocked.Increment(ref holding);
                    InterlockedMax(ref most, now);
                    Interlocked.Decrement(ref holding);
                    slots.Exit();
                }
            }
        }));
        await Task.WhenAll(workers);

        Assert.InRange(most, 1, 3);
        Assert.Equal(0, slots.InFlight);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}

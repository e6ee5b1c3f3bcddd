namespace Sidecar.Observability;

/// <summary>
/// The last 15 minutes of one service for the status page's charts (docs/observability.md#status-page-get-):
/// a fixed ring of <see cref="Slots"/> slots of <see cref="SlotSeconds"/> seconds, each with requests,
/// errors (5xx, the agent's own included), refusals (bulkhead, rate limit, open circuit) and a latency
/// histogram for the p99. Fixed size whatever the traffic (about 10 KiB a service); on the hot path a few
/// <see cref="Interlocked"/> adds, no lock and no allocation (a slot is zeroed under a lock when it is reused,
/// once per 15 s).
/// </summary>
internal sealed class ServiceHistory
{
    public const int Slots = 60;
    public const int SlotSeconds = 15;

    /// <summary>Upper bounds of the latency buckets, in milliseconds; the last catches the rest.</summary>
    internal static readonly double[] BucketMs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, double.PositiveInfinity];

    private readonly Lock _lock = new();
    private readonly Func<long> _clockMs;
    private readonly long[] _ids = new long[Slots];
    private readonly long[] _requests = new long[Slots];
    private readonly long[] _errors = new long[Slots];
    private readonly long[] _rejections = new long[Slots];
    private readonly long[] _latency = new long[Slots * 15];

    /// <param name="clockMs">Milliseconds of a monotonic clock (Environment.TickCount64 by default; tests pass their own).</param>
    public ServiceHistory(Func<long>? clockMs = null)
    {
        _clockMs = clockMs ?? (static () => Environment.TickCount64);
        Array.Fill(_ids, -1);
    }

    public void Request(int status) => Count(Slot(), status);

    public void Rejection() => Interlocked.Increment(ref _rejections[Slot()]);

    /// <summary>A request answered, and its latency (counted as <see cref="Request"/> counts, in the same look at the clock).</summary>
    public void Completed(int status, double seconds)
    {
        var slot = Slot();
        Count(slot, status);
        Latency(slot, seconds);
    }

    private void Count(int slot, int status)
    {
        Interlocked.Increment(ref _requests[slot]);
        if (status >= 500)
        {
            Interlocked.Increment(ref _errors[slot]);
        }
    }

    private void Latency(int slot, double seconds)
    {
        var ms = seconds * 1000;
        var bucket = 0;
        while (ms > BucketMs[bucket])
        {
            bucket++;
        }

        Interlocked.Increment(ref _latency[(slot * 15) + bucket]);
    }

    /// <summary>The ring from oldest to newest: per slot the requests, errors, refusals and p99 in ms (null without requests).</summary>
    public HistoryPoints Read()
    {
        var now = _clockMs() / 1000 / SlotSeconds;
        var requests = new long[Slots];
        var errors = new long[Slots];
        var rejections = new long[Slots];
        var p99 = new double?[Slots];
        for (var i = 0; i < Slots; i++)
        {
            var id = now - (Slots - 1) + i;
            var slot = (int)(((id % Slots) + Slots) % Slots);
            if (Volatile.Read(ref _ids[slot]) != id)
            {
                continue;
            }

            requests[i] = Volatile.Read(ref _requests[slot]);
            errors[i] = Volatile.Read(ref _errors[slot]);
            rejections[i] = Volatile.Read(ref _rejections[slot]);
            p99[i] = P99(slot);
        }

        return new HistoryPoints(SlotSeconds, requests, errors, rejections, p99);
    }

    private double? P99(int slot)
    {
        long total = 0;
        for (var b = 0; b < 15; b++)
        {
            total += Volatile.Read(ref _latency[(slot * 15) + b]);
        }

        if (total == 0)
        {
            return null;
        }

        var rank = (long)Math.Ceiling(total * 0.99);
        long seen = 0;
        for (var b = 0; b < 15; b++)
        {
            seen += Volatile.Read(ref _latency[(slot * 15) + b]);
            if (seen >= rank)
            {
                return double.IsPositiveInfinity(BucketMs[b]) ? BucketMs[b - 1] : BucketMs[b];
            }
        }

        return null;
    }

    private int Slot()
    {
        var id = _clockMs() / 1000 / SlotSeconds;
        var slot = (int)(id % Slots);
        if (Volatile.Read(ref _ids[slot]) != id)
        {
            lock (_lock)
            {
                if (_ids[slot] != id)
                {
                    // Zeroed before the id is written: a count made under the new id is never wiped.
                    Volatile.Write(ref _requests[slot], 0);
                    Volatile.Write(ref _errors[slot], 0);
                    Volatile.Write(ref _rejections[slot], 0);
                    Array.Clear(_latency, slot * 15, 15);
                    Volatile.Write(ref _ids[slot], id);
                }
            }
        }

        return slot;
    }
}

/// <summary>The ring as the status page draws it, oldest first.</summary>
internal sealed record HistoryPoints(
    [property: System.Text.Json.Serialization.JsonPropertyName("slotSeconds")] int SlotSeconds,
    [property: System.Text.Json.Serialization.JsonPropertyName("requests")] long[] Requests,
    [property: System.Text.Json.Serialization.JsonPropertyName("errors")] long[] Errors,
    [property: System.Text.Json.Serialization.JsonPropertyName("rejections")] long[] Rejections,
    [property: System.Text.Json.Serialization.JsonPropertyName("p99Ms")] double?[] P99Ms);

namespace Sidecar.Observability;

/// <summary>What kind of thing happened, for the status page's event list.</summary>
internal enum AgentEventKind
{
    Health,
    Registration,
    Ejection,
    Config,
    Circuit,
}

/// <summary>One line of the event list: when, what kind, and a short text (never a config value).</summary>
internal sealed record AgentEvent(DateTimeOffset Time, AgentEventKind Kind, string Message);

/// <summary>
/// The last <see cref="Capacity"/> notable events (health and registration changes, ejections,
/// config changes) in memory, for the status page. Events are rare, so a lock is fine; it is never
/// taken on the forwarding hot path (an ejection is already off it).
/// </summary>
internal sealed class AgentEventLog(TimeProvider time)
{
    public const int Capacity = 100;

    private readonly AgentEvent?[] _ring = new AgentEvent?[Capacity];
    private readonly Lock _lock = new();
    private int _next;
    private long _total;

    /// <summary>How many events were ever added (the page shows the newest <see cref="Capacity"/>).</summary>
    public long Total
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    public void Add(AgentEventKind kind, string message)
    {
        var entry = new AgentEvent(time.GetUtcNow(), kind, message);
        lock (_lock)
        {
            _ring[_next] = entry;
            _next = (_next + 1) % Capacity;
            _total++;
        }
    }

    /// <summary>The events kept, newest first.</summary>
    public IReadOnlyList<AgentEvent> Recent()
    {
        lock (_lock)
        {
            var result = new List<AgentEvent>(Capacity);
            for (var i = 1; i <= Capacity; i++)
            {
                if (_ring[(_next - i + Capacity) % Capacity] is { } entry)
                {
                    result.Add(entry);
                }
            }

            return result;
        }
    }
}

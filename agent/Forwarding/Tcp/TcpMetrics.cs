using Prometheus;
using Sidecar.Observability;

namespace Sidecar.Forwarding.Tcp;

/// <summary>One TCP listener's counts, written on the connection path with <see cref="Interlocked"/> only.</summary>
internal sealed class TcpListenerCounters(TcpListenerSpec spec)
{
    /// <summary>The <c>reason</c> labels of connect failures, in the order of <see cref="ConnectFailures"/>.</summary>
    public static readonly string[] FailureReasons = ["refused", "timeout", "unreachable", "error", "no_instance"];

    /// <summary>The <c>reason</c> labels of connections the agent closed, in the order of <see cref="Closed"/>.</summary>
    public static readonly string[] CloseReasons = ["idle", "drain"];

    private long _connections;
    private long _active;
    private long _bytesToInstance;
    private long _bytesToApp;

    public TcpListenerSpec Spec { get; } = spec;

    public long Connections => Volatile.Read(ref _connections);

    public long Active => Volatile.Read(ref _active);

    public long BytesToInstance => Volatile.Read(ref _bytesToInstance);

    public long BytesToApp => Volatile.Read(ref _bytesToApp);

    /// <summary>Connect failures by <see cref="FailureReasons"/>: every failed attempt, and the connections no instance was left for.</summary>
    public long[] ConnectFailures { get; } = new long[FailureReasons.Length];

    /// <summary>Connections the agent closed itself, by <see cref="CloseReasons"/>.</summary>
    public long[] Closed { get; } = new long[CloseReasons.Length];

    public void Opened()
    {
        Interlocked.Increment(ref _connections);
        Interlocked.Increment(ref _active);
    }

    public void Ended() => Interlocked.Decrement(ref _active);

    public void Relayed(bool toInstance, int bytes) =>
        Interlocked.Add(ref toInstance ? ref _bytesToInstance : ref _bytesToApp, bytes);

    public void ConnectFailed(string reason) => Interlocked.Increment(ref ConnectFailures[Array.IndexOf(FailureReasons, reason)]);

    public void ClosedBy(string reason) => Interlocked.Increment(ref Closed[Array.IndexOf(CloseReasons, reason)]);
}

/// <summary>
/// The TCP listeners' families in the agent's registry (docs/observability.md#metrics-get-metrics), labelled by
/// <c>listener</c> (its port) and <c>service</c>: both come from the configuration, so the series are few and fixed.
/// Copied from the <see cref="TcpListenerCounters"/> before each scrape, as the forwarder's are.
/// </summary>
internal sealed class TcpMetrics
{
    private readonly TcpListenerCounters[] _listeners;
    private readonly Counter? _connections;
    private readonly Gauge? _active;
    private readonly Counter? _bytes;
    private readonly Counter? _failures;
    private readonly Counter? _closed;

    public TcpMetrics(ForwardingOptions options, MetricsRegistry? registry = null)
    {
        _listeners = [.. options.TcpListeners.Select(spec => new TcpListenerCounters(spec))];
        if (registry is null || _listeners.Length == 0)
        {
            return;
        }

        var f = registry.Factory;
        string[] labels = ["listener", "service"];
        _connections = f.CreateCounter("sidecar_tcp_connections_total", "Connections accepted by a TCP listener.", labels);
        _active = f.CreateGauge("sidecar_tcp_connections_active", "Connections of a TCP listener open now.", labels);
        _bytes = f.CreateCounter("sidecar_tcp_bytes_total", "Bytes relayed by a TCP listener, by direction (app_to_instance, instance_to_app).", ["listener", "service", "direction"]);
        _failures = f.CreateCounter("sidecar_tcp_connect_failures_total",
            "Connect attempts to instances that failed (refused, timeout, unreachable, error), and connections no instance was left for (no_instance).",
            ["listener", "service", "reason"]);
        _closed = f.CreateCounter("sidecar_tcp_connections_closed_total", "Connections the agent closed itself: idle time-out (idle) or end of the drain (drain).",
            ["listener", "service", "reason"]);
        registry.Registry.AddBeforeCollectCallback(Update);
    }

    /// <summary>The counters of the listener on <paramref name="port"/>.</summary>
    public TcpListenerCounters For(int port) => Array.Find(_listeners, l => l.Spec.Port == port) ?? throw new ArgumentOutOfRangeException(nameof(port));

    public IReadOnlyList<TcpListenerCounters> Listeners => _listeners;

    private void Update()
    {
        foreach (var l in _listeners)
        {
            var (port, service) = (l.Spec.Label, l.Spec.Service);
            _connections!.WithLabels(port, service).IncTo(l.Connections);
            _active!.WithLabels(port, service).Set(l.Active);
            _bytes!.WithLabels(port, service, "app_to_instance").IncTo(l.BytesToInstance);
            _bytes.WithLabels(port, service, "instance_to_app").IncTo(l.BytesToApp);
            for (var i = 0; i < TcpListenerCounters.FailureReasons.Length; i++)
            {
                _failures!.WithLabels(port, service, TcpListenerCounters.FailureReasons[i]).IncTo(Volatile.Read(ref l.ConnectFailures[i]));
            }

            for (var i = 0; i < TcpListenerCounters.CloseReasons.Length; i++)
            {
                _closed!.WithLabels(port, service, TcpListenerCounters.CloseReasons[i]).IncTo(Volatile.Read(ref l.Closed[i]));
            }
        }
    }
}

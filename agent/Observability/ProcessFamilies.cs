using Prometheus;

namespace Sidecar.Observability;

/// <summary>The <c>process_*</c> families of one process (node_exporter and client-library names); absent while it cannot be read.</summary>
internal sealed class ProcessFamilies
{
    private readonly Counter _cpu;
    private readonly Gauge _resident;
    private readonly Gauge _virtual;
    private readonly Gauge _openFds;
    private readonly Gauge _maxFds;
    private readonly Gauge _startTime;

    public ProcessFamilies(IMetricFactory f, string prefix, string whose)
    {
        var later = new CounterConfiguration { SuppressInitialValue = true };
        var laterGauge = new GaugeConfiguration { SuppressInitialValue = true };
        _cpu = f.CreateCounter(prefix + "cpu_seconds_total", whose + " user and system CPU time, in seconds.", [], later);
        _resident = f.CreateGauge(prefix + "resident_memory_bytes", whose + " resident memory (RSS), in bytes.", [], laterGauge);
        _virtual = f.CreateGauge(prefix + "virtual_memory_bytes", whose + " virtual memory, in bytes.", [], laterGauge);
        _openFds = f.CreateGauge(prefix + "open_fds", whose + " open file descriptors (sockets included).", [], laterGauge);
        _maxFds = f.CreateGauge(prefix + "max_fds", whose + " limit of open file descriptors.", [], laterGauge);
        _startTime = f.CreateGauge(prefix + "start_time_seconds", "When " + whose.ToLowerInvariant()[..^2] + " process started, in seconds since the Unix epoch: a change means a restart.", [], laterGauge);
    }

    public void Update(ProcessStats? stats)
    {
        if (stats is null)
        {
            _cpu.Unpublish();
            _resident.Unpublish();
            _virtual.Unpublish();
            _openFds.Unpublish();
            _maxFds.Unpublish();
            _startTime.Unpublish();
            return;
        }

        _cpu.IncTo(stats.CpuSeconds);
        _resident.Set(stats.ResidentBytes);
        _virtual.Set(stats.VirtualBytes);
        _startTime.Set(stats.StartTimeSeconds);
        SetOrHide(_openFds, stats.OpenFds);
        SetOrHide(_maxFds, stats.MaxFds);
    }

    private static void SetOrHide(Gauge gauge, double? value)
    {
        if (value is { } v)
        {
            gauge.Set(v);
        }
        else
        {
            gauge.Unpublish();
        }
    }
}

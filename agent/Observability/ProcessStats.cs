using System.Globalization;

namespace Sidecar.Observability;

/// <summary>
/// One process's figures read from <c>/proc/{pid}</c> (Linux), the <c>process_*</c> families Prometheus's
/// client libraries export: CPU seconds, resident and virtual memory, open and maximum file descriptors,
/// start time. Reading costs a few small file reads per scrape and nothing between scrapes (no
/// collector thread, unlike prometheus-net's default collectors). Null where /proc is not there.
/// </summary>
internal sealed record ProcessStats(double CpuSeconds, long ResidentBytes, long VirtualBytes, int? OpenFds, long? MaxFds, double StartTimeSeconds)
{
    /// <summary>Clock ticks per second of <c>/proc/*/stat</c> times (USER_HZ): 100 on every Linux architecture .NET runs on.</summary>
    private const double TicksPerSecond = 100;

    private static readonly Lazy<double?> BootTime = new(ReadBootTime);

    /// <summary>Reads <c>/proc/{pid}</c> (<c>self</c> for this process); null when it cannot (not Linux, the process is gone).</summary>
    public static ProcessStats? Read(string pid = "self")
    {
        try
        {
            var dir = "/proc/" + pid;
            var stat = ParseStat(File.ReadAllText(dir + "/stat"));
            var statm = File.ReadAllText(dir + "/statm").Split(' ');
            var page = Environment.SystemPageSize;
            int? open = null;
            long? max = null;
            if (pid == "self" || Directory.Exists(dir + "/fd"))
            {
                try
                {
                    open = Directory.GetFileSystemEntries(dir + "/fd").Length;
                    max = ParseMaxOpenFiles(File.ReadAllText(dir + "/limits"));
                }
                catch (UnauthorizedAccessException)
                {
                    // Another user's process: its fds are not ours to count.
                }
            }

            return new ProcessStats(
                (stat.UserTicks + stat.SystemTicks) / TicksPerSecond,
                long.Parse(statm[1], CultureInfo.InvariantCulture) * page,
                long.Parse(statm[0], CultureInfo.InvariantCulture) * page,
                open,
                max,
                (BootTime.Value ?? 0) + (stat.StartTicks / TicksPerSecond));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>utime (14), stime (15) and starttime (22) of <c>/proc/*/stat</c>; the command (2) may hold spaces and parentheses, so fields count from its last ')'.</summary>
    internal static (long UserTicks, long SystemTicks, long StartTicks) ParseStat(string stat)
    {
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state).
        return (long.Parse(fields[11], CultureInfo.InvariantCulture), long.Parse(fields[12], CultureInfo.InvariantCulture), long.Parse(fields[19], CultureInfo.InvariantCulture));
    }

    /// <summary>The soft limit of "Max open files" in <c>/proc/*/limits</c>; null when unlimited or absent.</summary>
    internal static long? ParseMaxOpenFiles(string limits)
    {
        foreach (var line in limits.Split('\n'))
        {
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var soft) ? soft : null;
            }
        }

        return null;
    }

    private static double? ReadBootTime()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/stat"))
            {
                if (line.StartsWith("btime ", StringComparison.Ordinal))
                {
                    return double.Parse(line[6..], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }
}

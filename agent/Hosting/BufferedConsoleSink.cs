using System.Text;
using System.Threading.Channels;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Parsing;
using Sidecar.Platform;

namespace Sidecar.Hosting;

/// <summary>
/// Stdout off the request path. Serilog's console sink takes a lock and makes one <c>write</c> call
/// per line on the logging thread: with one request line per call that was half of the agent's CPU
/// at full load (bench/RESULTS.md, docs/performance.md#what-was-tuned). Here an event is only queued; one
/// background loop formats whatever is queued and writes it with one call, so batches form by
/// themselves (at most one write per 10 ms under load) and a quiet agent still writes a line at
/// once. Order is kept.
/// A sidecar must never stall its app's calls on a slow log reader: past <see cref="QueueLimit"/>
/// waiting events new ones are dropped, and a warning says how many once output catches up.
/// </summary>
internal sealed class BufferedConsoleSink : ILogEventSink, IDisposable
{
    internal const int QueueLimit = 20_000;

    // Flush at least this often within one long batch, so lines are never held back for long.
    private const int MaxBatch = 1024;

    private static readonly TimeSpan GatherTime = TimeSpan.FromMilliseconds(10);

    private static readonly MessageTemplate DroppedTemplate =
        new MessageTemplateParser().Parse("{Dropped} log events were dropped: the log output did not keep up");

    private readonly Channel<LogEvent> _queue;
    private readonly ITextFormatter _formatter;
    private readonly StreamWriter _writer;
    private readonly Lock _writeLock;
    private readonly Task _loop;
    private readonly EventHandler _onExit;
    private long _dropped;
    private int _disposed;

    public BufferedConsoleSink(ITextFormatter formatter, Stream? output = null)
    {
        _formatter = formatter;
        // On the real stdout, the lock the supervised app's lines are written under too (ConsoleLines):
        // each batch goes out whole, never inside one of the app's lines.
        _writeLock = output is null ? ConsoleLines.StdoutLock : new Lock();
        _writer = new StreamWriter(output ?? Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
        _queue = Channel.CreateBounded<LogEvent>(
            new BoundedChannelOptions(QueueLimit) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true },
            _ => Interlocked.Increment(ref _dropped));
        _loop = Task.Run(WriteLoopAsync);
        _onExit = (_, _) => Dispose();
        AppDomain.CurrentDomain.ProcessExit += _onExit;
    }

    public void Emit(LogEvent logEvent)
    {
        if (!_queue.Writer.TryWrite(logEvent) && Volatile.Read(ref _disposed) == 1)
        {
            // After shutdown (late lines from disposal): write directly, nothing is waiting any more.
            lock (_writeLock)
            {
                Write(logEvent);
                Flush();
            }
        }
    }

    /// <summary>Writes what is queued and stops the loop; waits at most a few seconds for a blocked stdout.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        AppDomain.CurrentDomain.ProcessExit -= _onExit;
        _queue.Writer.TryComplete();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            lock (_writeLock)
            {
                var count = 0;
                while (reader.TryRead(out var logEvent))
                {
                    Write(logEvent);
                    if (++count == MaxBatch)
                    {
                        Flush();
                        count = 0;
                    }
                }

                var dropped = Interlocked.Exchange(ref _dropped, 0);
                if (dropped > 0)
                {
                    Write(new LogEvent(DateTimeOffset.Now, LogEventLevel.Warning, null, DroppedTemplate,
                    [
                        new LogEventProperty("Dropped", new ScalarValue(dropped)),
                        new LogEventProperty("SourceContext", new ScalarValue(typeof(BufferedConsoleSink).FullName)),
                    ]));
                }

                Flush();
            }

            // Let the next lines gather: waking this loop for every line would cost the request
            // path a thread wake-up each. A line waits at most this long; a quiet agent's first one not at all.
            await Task.Delay(GatherTime).ConfigureAwait(false);
        }
    }

    private void Write(LogEvent logEvent)
    {
        try
        {
            _formatter.Format(logEvent, _writer);
        }
#pragma warning disable CA1031 // logging never throws (a closed stdout, a formatter bug)
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private void Flush()
    {
        try
        {
            _writer.Flush();
        }
#pragma warning disable CA1031 // a closed or broken stdout must not stop the agent
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}

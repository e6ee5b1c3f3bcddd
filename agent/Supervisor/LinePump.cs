
namespace Sidecar.Supervisor;

/// <summary>
/// Copies the supervised app's output to the agent's, whole lines at a time under the lock the agent's
/// own log lines are written under (<see cref="ConsoleLines"/>): the two never interleave inside a line.
/// Bytes are copied as they are (no decoding). A line longer than the buffer (64 KiB) goes out in
/// pieces of that size, each ended with a newline; a last line without one gets one.
/// Runs on a thread of its own: blocking reads of a pipe must not hold a socket thread (InlineIo).
/// </summary>
internal static class LinePump
{
    internal const int BufferSize = 64 * 1024;

    /// <summary>Starts copying; the task ends when the app closes its end of the pipe.</summary>
    public static Task Start(Stream source, Stream target, Lock gate, string name)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Copy(source, target, gate);
            }
#pragma warning disable CA1031 // a broken pipe on either side ends the copy, never the agent
            catch (Exception)
#pragma warning restore CA1031
            {
            }
            finally
            {
                done.TrySetResult();
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }

    internal static void Copy(Stream source, Stream target, Lock gate)
    {
        var buffer = new byte[BufferSize + 1]; // one spare byte for the newline a last or cut line gets
        var filled = 0;
        while (true)
        {
            var read = source.Read(buffer, filled, BufferSize - filled);
            if (read == 0)
            {
                if (filled > 0)
                {
                    buffer[filled++] = (byte)'\n';
                    Write(target, gate, buffer.AsSpan(0, filled));
                }

                return;
            }

            filled += read;
            var end = buffer.AsSpan(0, filled).LastIndexOf((byte)'\n');
            if (end >= 0)
            {
                Write(target, gate, buffer.AsSpan(0, end + 1));
                buffer.AsSpan(end + 1, filled - end - 1).CopyTo(buffer);
                filled -= end + 1;
            }
            else if (filled == BufferSize)
            {
                buffer[filled++] = (byte)'\n';
                Write(target, gate, buffer.AsSpan(0, filled));
                filled = 0;
            }
        }
    }

    private static void Write(Stream target, Lock gate, ReadOnlySpan<byte> lines)
    {
        lock (gate)
        {
            target.Write(lines);
            target.Flush();
        }
    }
}

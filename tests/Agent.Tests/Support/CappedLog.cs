using System.Globalization;
using System.Text;

namespace Sidecar.Tests.Support;

/// <summary>
/// A child process's output as the tests keep it: every line until <c>headChars</c>, then only the
/// last <c>tailLines</c> lines, with a marker saying how many were left out between. A misbehaving
/// agent (a busy loop logging a line per turn) then fills neither the test's memory nor, through the
/// logs tests save for a failed run, the disk; the start and the end, where the story usually is, stay.
/// </summary>
internal sealed class CappedLog(int headChars = CappedLog.DefaultHeadChars, int tailLines = CappedLog.DefaultTailLines)
{
    /// <summary>About 2 MiB of text kept from the start: far more than any test's agent prints when it behaves.</summary>
    public const int DefaultHeadChars = 2 * 1024 * 1024;

    /// <summary>Lines kept from the end once the head is full.</summary>
    public const int DefaultTailLines = 500;

    private readonly Lock _lock = new();
    private readonly StringBuilder _head = new();
    private readonly Queue<string> _tail = new();
    private bool _headFull;
    private long _leftOut;

    public void AppendLine(string line)
    {
        lock (_lock)
        {
            if (!_headFull && _head.Length + line.Length + 1 <= headChars)
            {
                _head.Append(line).Append('\n');
                return;
            }

            _headFull = true;
            _tail.Enqueue(line);
            if (_tail.Count > tailLines)
            {
                _tail.Dequeue();
                _leftOut++;
            }
        }
    }

    public override string ToString()
    {
        lock (_lock)
        {
            if (!_headFull)
            {
                return _head.ToString();
            }

            var text = new StringBuilder(_head.Length + (_tail.Count * 120));
            text.Append(_head);
            if (_leftOut > 0)
            {
                text.Append(CultureInfo.InvariantCulture, $"[test log: {_leftOut} lines left out here; kept the first {headChars / (1024 * 1024.0):0.#} MiB and the last {tailLines} lines]\n");
            }

            foreach (var line in _tail)
            {
                text.Append(line).Append('\n');
            }

            return text.ToString();
        }
    }
}

using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Sidecar.Tests.Reliability;

/// <summary>One answer read off a raw socket: the status (0 when none came), the head, the raw body, and how the exchange ended.</summary>
internal sealed record RawAnswer(int Status, string Head, string Body, bool TimedOut)
{
    public bool Answered => Status > 0;

    public string? Header(string name)
    {
        foreach (var line in Head.Split("\r\n"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return null;
    }

    public override string ToString() => Answered ? $"{Status} {Header("X-Sidecar-Error")}" : TimedOut ? "timed out" : "closed without an answer";
}

/// <summary>
/// Sends bytes exactly as given (any byte, any line ending, any length) and reads until the server
/// closes or the time-out; the hostile-input tests need what no HTTP client would send.
/// </summary>
internal static partial class RawClient
{
    /// <summary>A stack trace, an exception's type name or a source line: nothing an answer may ever contain.</summary>
    public static readonly Regex StackTraceMarkers = StackTrace();

    public static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    public static async Task<RawAnswer> SendAsync(int port, byte[] request, TimeSpan? timeout = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        var received = new MemoryStream();
        var timedOut = false;
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            // No half-close after the request: Kestrel takes the client's FIN for a connection gone and answers nothing.
            try
            {
                await socket.SendAsync(request, SocketFlags.None, cts.Token);
            }
            catch (SocketException)
            {
                // the server refused the rest (e.g. a limit hit mid-send): its answer may still be readable
            }

            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (OperationCanceledException)
        {
            timedOut = true;
        }
        catch (SocketException)
        {
            // reset after (or instead of) the answer: keep what arrived
        }

        return Parse(Encoding.Latin1.GetString(received.ToArray()), timedOut);
    }

    public static RawAnswer Parse(string answer, bool timedOut)
    {
        var split = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = split < 0 ? answer : answer[..split];
        var status = head.StartsWith("HTTP/1.", StringComparison.Ordinal) && head.Length >= 12 &&
                     int.TryParse(head.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? code : 0;
        return new RawAnswer(status, head, split < 0 ? "" : answer[(split + 4)..], timedOut);
    }

    /// <summary>Resident memory of a process, in MiB (Linux).</summary>
    public static double RssMiB(int pid) => ProcStatus(pid, "VmRSS:") / 1024.0;

    /// <summary>Open file descriptors (sockets included) of a process (Linux).</summary>
    public static int OpenHandles(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Length;

    public static int Threads(int pid) => (int)ProcStatus(pid, "Threads:");

    private static long ProcStatus(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    [GeneratedRegex(@"\bat [A-Za-z_][\w.`]*\(|Exception\b|\.cs:line \d|System\.[A-Z]\w+\.[A-Z]")]
    private static partial Regex StackTrace();
}

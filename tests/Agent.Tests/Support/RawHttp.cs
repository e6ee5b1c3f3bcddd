using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sidecar.Tests.Support;

/// <summary>Sends bytes exactly as written (what HttpClient would refuse to send) and reads the answer until the server closes.</summary>
public static class RawHttp
{
    public sealed record Answer(int Status, string Head, string Body)
    {
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
    }

    /// <param name="request">The request head, lines separated by \r\n, without the final empty line; <c>Connection: close</c> is added unless it has a Connection header (which must then include close).</param>
    public static async Task<Answer> SendAsync(int port, string request, string? requestBody = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        var close = request.Contains("\r\nConnection:", StringComparison.OrdinalIgnoreCase) ? "" : "\r\nConnection: close";
        var text = request.TrimEnd() + close + "\r\n\r\n" + requestBody;
        await socket.SendAsync(Encoding.Latin1.GetBytes(text));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (SocketException)
        {
            // reset after the answer: keep what arrived
        }

        var answer = Encoding.Latin1.GetString(received.ToArray());
        var split = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = split < 0 ? answer : answer[..split];
        var status = head.Length >= 12 && int.TryParse(head.AsSpan(9, 3), out var code) ? code : 0;
        var body = split < 0 ? "" : answer[(split + 4)..];
        var answerHead = new Answer(status, head, "");
        if (string.Equals(answerHead.Header("Transfer-Encoding"), "chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = Dechunk(body);
        }

        return answerHead with { Body = body };
    }

    /// <summary>True when the peer has closed (or reset) the connection: readable with nothing to read. Does not block.</summary>
    public static bool IsClosed(Socket socket)
    {
        try
        {
            return socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    private static string Dechunk(string chunked)
    {
        var result = new StringBuilder();
        var position = 0;
        while (position < chunked.Length)
        {
            var lineEnd = chunked.IndexOf("\r\n", position, StringComparison.Ordinal);
            if (lineEnd < 0 || !int.TryParse(chunked.AsSpan(position, lineEnd - position), System.Globalization.NumberStyles.HexNumber, null, out var size) || size == 0)
            {
                break;
            }

            result.Append(chunked, lineEnd + 2, Math.Min(size, chunked.Length - lineEnd - 2));
            position = lineEnd + 2 + size + 2;
        }

        return result.ToString();
    }
}

using System.Text;
using Sidecar.Forwarding.Http1;

namespace Sidecar.Tests.Forwarding.Http1;

/// <summary>The strict reading of an answer's head (docs/performance.md#the-lean-http11-upstream-client) as a table.</summary>
[Trait("Category", "Unit")]
public sealed class ResponseHeadParserTests
{
    [Fact]
    public void IndexOfCrlf_FindsWhatTheTwoByteSearchFinds_ForEverySpanOfCrLfAndALetter()
    {
        // Every span of up to 7 bytes over CR, LF and 'a' (3,280 spans): bare LFs and CRs before, after and between CRLFs.
        byte[] alphabet = [(byte)'\r', (byte)'\n', (byte)'a'];
        var checkedSpans = 0;
        for (var length = 0; length <= 7; length++)
        {
            var span = new byte[length];
            for (var n = 0; n < (int)Math.Pow(3, length); n++)
            {
                for (int i = 0, rest = n; i < length; i++, rest /= 3)
                {
                    span[i] = alphabet[rest % 3];
                }

                Assert.True(ResponseHeadParser.IndexOfCrlf(span) == span.AsSpan().IndexOf("\r\n"u8), Encoding.ASCII.GetString(span).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal));
                checkedSpans++;
            }
        }

        Assert.Equal(3280, checkedSpans);
    }

    public static TheoryData<string, string, bool, string> Heads => new()
    {
        // case                          head (without the final empty line)                                      HEAD   expected: status framing length keep-alive, or "refused"
        { "length",                      "HTTP/1.1 200 OK\r\nContent-Length: 5",                                   false, "200 Length 5 True" },
        { "no reason phrase",            "HTTP/1.1 204",                                                           false, "204 None 0 True" },
        { "chunked",                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",                          false, "200 Chunked 0 True" },
        { "chunked last coding",         "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked",                    false, "200 Chunked 0 True" },
        { "coding not chunked: to close","HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip",                             false, "200 ToClose 0 False" },
        { "no length: to close",         "HTTP/1.1 200 OK\r\nServer: x",                                           false, "200 ToClose 0 False" },
        { "Connection: close",           "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0",  false, "200 Length 0 False" },
        { "HTTP/1.0 never kept",         "HTTP/1.0 200 OK\r\nContent-Length: 2",                                   false, "200 Length 2 False" },
        { "HEAD has no body",            "HTTP/1.1 200 OK\r\nContent-Length: 100",                                 true,  "200 None 0 True" },
        { "304 has no body",             "HTTP/1.1 304 Not Modified\r\nContent-Length: 100",                       false, "304 None 0 True" },
        { "101 closes",                  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket",                 false, "101 None 0 False" },
        { "same length twice",           "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3",              false, "200 Length 3 True" },
        { "Latin-1 value and reason",    "HTTP/1.1 200 Tr\u00e8s bien\r\nX-Latin: caf\u00e9\r\nContent-Length: 0", false, "200 Length 0 True" },
        { "control character in value",  "HTTP/1.1 200 OK\r\nX-Ctl: a\u0001b\r\nContent-Length: 0",               false, "200 Length 0 True" },
        { "TE and CL (smuggling)",       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3",     false, "refused" },
        { "two different lengths",       "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4",              false, "refused" },
        { "length list",                 "HTTP/1.1 200 OK\r\nContent-Length: 3, 4",                                false, "refused" },
        { "negative length",             "HTTP/1.1 200 OK\r\nContent-Length: -1",                                  false, "refused" },
        { "huge length",                 "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999",                false, "refused" },
        { "empty length",                "HTTP/1.1 200 OK\r\nContent-Length: ",                                    false, "refused" },
        { "obs-fold",                    "HTTP/1.1 200 OK\r\nX-A: a\r\n  folded\r\nContent-Length: 0",             false, "refused" },
        { "space before colon",          "HTTP/1.1 200 OK\r\nContent-Length : 5",                                  false, "refused" },
        { "no colon",                    "HTTP/1.1 200 OK\r\nJunk",                                                false, "refused" },
        { "empty name",                  "HTTP/1.1 200 OK\r\n: x",                                                 false, "refused" },
        { "name not a token",            "HTTP/1.1 200 OK\r\nX(a): b",                                             false, "refused" },
        { "bare LF in a value",          "HTTP/1.1 200 OK\r\nX-A: a\nContent-Length: 5",                           false, "refused" },
        { "bare CR in a value",          "HTTP/1.1 200 OK\r\nX-A: a\rb",                                           false, "refused" },
        { "four-digit status",           "HTTP/1.1 2000 What",                                                     false, "refused" },
        { "status 099",                  "HTTP/1.1 099 x",                                                         false, "refused" },
        { "HTTP/2 status line",          "HTTP/2 200 OK",                                                          false, "refused" },
        { "HTTP/1.2",                    "HTTP/1.2 200 OK",                                                        false, "refused" },
        { "lower-case protocol",         "http/1.1 200 OK",                                                        false, "refused" },
        { "not HTTP",                    "SSH-2.0-OpenSSH_9.6",                                                    false, "refused" },
    };

    [Theory]
    [MemberData(nameof(Heads))]
    public void Parse(string name, string head, bool requestWasHead, string expected)
    {
        var bytes = Encoding.Latin1.GetBytes(head + "\r\n\r\n");

        var reason = ResponseHeadParser.Parse(bytes, requestWasHead, null, out var result);

        var actual = reason is null ? $"{result.Status} {result.Framing} {result.ContentLength} {result.KeepAlive}" : "refused";
        Assert.True(expected == actual, $"{name}: {actual} ({reason})");
    }

    [Theory]
    [InlineData("HTTP/1.1 100 Continue", true)]
    [InlineData("HTTP/1.1 103 Early Hints", true)]
    [InlineData("HTTP/1.1 101 Switching Protocols", false)]
    [InlineData("HTTP/1.1 200 OK", false)]
    public void InterimAnswers_AreSkipped_But101(string line, bool interim)
    {
        var status = ResponseHeadParser.StatusOf(Encoding.ASCII.GetBytes(line + "\r\n\r\n"), out _);

        Assert.Equal(interim, ResponseHeadParser.IsInterim(status));
    }

    [Fact]
    public void Headers_GoToTheResponseOrItsContent_AsLatin1()
    {
        using var response = new HttpResponseMessage { Content = new ResponseContent() };
        var head = Encoding.Latin1.GetBytes("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nX-Latin: caf\u00e9\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\n");

        Assert.Null(ResponseHeadParser.Parse(head, false, response, out _));

        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(2, response.Content.Headers.ContentLength);
        Assert.Equal("caf\u00e9", Assert.Single(response.Headers.NonValidated["X-Latin"]));
        Assert.Equal(["a=1", "b=2"], response.Headers.NonValidated["Set-Cookie"]);
    }

    [Theory]
    [InlineData("5", 5L)]
    [InlineData("1a", 26L)]
    [InlineData("FF; name=value", 255L)]
    [InlineData("10 ;ext", 16L)]
    [InlineData("0", 0L)]
    [InlineData("fffffffffffffff", 0xfffffffffffffffL)]
    [InlineData("ffffffffffffffff", -1L)] // 16 digits: over the bound
    [InlineData("FFFFFFFFFFFFFFFFFF", -1L)]
    [InlineData("", -1L)]
    [InlineData("zz", -1L)]
    [InlineData("-1", -1L)]
    [InlineData("5x", -1L)]
    public void ChunkSizes_AreHexAndBounded(string line, long expected)
    {
        var ok = ResponseHeadParser.TryParseChunkSize(Encoding.ASCII.GetBytes(line), out var size);

        Assert.Equal(expected, ok ? size : -1);
    }
}

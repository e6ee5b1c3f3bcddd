using System.Reflection;
using System.Text;
using Microsoft.AspNetCore.Http;
using Sidecar.Forwarding;
using Sidecar.Forwarding.Http1;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The lean answer's copy (its fields straight into Kestrel's headers, <see cref="ResponseHeaders"/>) against
/// the copy through HttpHeaders' collections (<see cref="ProxyHeaders.CopyResponseHeaders"/>), on the same
/// heads: the same names, casing, order and values must come out (docs/performance.md#what-was-tuned).
/// Kestrel's own refusal of a value is checked end to end (<c>ResponseHeadCopyTests</c>).
/// </summary>
[Trait("Category", "Unit")]
public sealed class ResponseHeadersTests
{
    public static TheoryData<string, string> Heads => new()
    {
        { "nginx", "HTTP/1.1 200 OK\r\nServer: nginx/1.26.3\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\nContent-Type: application/octet-stream\r\nContent-Length: 1024\r\nLast-Modified: Thu, 03 Dec 2026 08:00:00 GMT\r\nConnection: keep-alive\r\nETag: \"6756-400\"\r\nAccept-Ranges: bytes" },
        { "duplicate names, any case", "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\nx-a: 3\r\nVary: Accept\r\nvary: Origin\r\nContent-Length: 0" },
        { "Set-Cookie twice", "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nContent-Length: 0\r\nset-cookie: b=2, c=3" },
        { "Connection names headers", "HTTP/1.1 200 OK\r\nConnection: close, X-Drop\r\nX-Drop: gone\r\nX-Keep: kept\r\nconnection: x-also\r\nX-Also: gone\r\nContent-Length: 0" },
        { "Connection names content", "HTTP/1.1 200 OK\r\nConnection: Content-Language ,  x-y\r\nContent-Language: en\r\nX-Y: 1\r\nContent-Type: text/plain" },
        { "Connection: close names close", "HTTP/1.1 200 OK\r\nConnection: close\r\nclose: 1\r\nContent-Length: 0" },
        { "content headers after the others", "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nX-First: 1\r\nContent-Disposition: attachment\r\nAllow: GET\r\nExpires: 0\r\nContent-MD5: x\r\nCache-Control: no-store\r\ncontent-length: 0\r\nX-Last: 2" },
        { "known names take HttpHeaders' casing", "HTTP/1.1 200 OK\r\nx-frame-options: DENY\r\nlink: </a>\r\nSTRICT-TRANSPORT-SECURITY: max-age=1\r\nGRPC-STATUS: 0\r\nx-custom-Case: 1\r\nContent-Length: 0" },
        { "hop-by-hop dropped", "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nProxy-Foo: 1\r\nproxy-authenticate: Basic\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-Fine: yes" },
        { "control character value", "HTTP/1.1 200 OK\r\nX-Ctl: a\u0001b\r\nX-Fine: yes\r\nX-Ctl: c\r\nContent-Length: 0" },
        { "empty and Latin-1 values", "HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Latin: caf\u00e9\r\nX-Tab: a\tb\r\nContent-Length: 0" },
        { "request headers on an answer", "HTTP/1.1 200 OK\r\nHost: x\r\naccept: */*\r\nUser-Agent: up\r\nContent-Length: 0" },
        { "Retry-After seconds", "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nContent-Length: 0" },
        { "Retry-After IMF date", "HTTP/1.1 503 Service Unavailable\r\nRetry-After: Fri, 04 Dec 2026 07:28:00 GMT\r\nContent-Length: 0" },
        { "Retry-After RFC 850 date", "HTTP/1.1 503 Service Unavailable\r\nretry-after: Friday, 04-Dec-26 07:28:00 GMT\r\nContent-Length: 0" },
        { "Retry-After asctime", "HTTP/1.1 503 Service Unavailable\r\nRetry-After: Fri Dec  4 07:28:00 2026\r\nContent-Length: 0" },
        { "Retry-After junk", "HTTP/1.1 503 Service Unavailable\r\nRetry-After: soon\r\nContent-Length: 0" },
        { "Retry-After twice", "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nRetry-After: 7\r\nContent-Length: 0" },
        { "Retry-After junk then seconds", "HTTP/1.1 429 Too Many Requests\r\nRetry-After: soon\r\nRetry-After: 7\r\nContent-Length: 0" },
        { "Retry-After with trailing text", "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120 seconds\r\nContent-Length: 0" },
        { "Retry-After negative", "HTTP/1.1 503 Service Unavailable\r\nRetry-After: -1\r\nContent-Length: 0" },
        { "many fields", "HTTP/1.1 200 OK\r\n" + string.Join("\r\n", Enumerable.Range(0, 80).Select(i => $"X-H{i % 70}: {i}")) + "\r\nContent-Length: 0" },
    };

    [Theory]
    [MemberData(nameof(Heads))]
    public void TheFieldsCopy_IsTheHttpHeadersCopy(string name, string head)
    {
        var bytes = Encoding.Latin1.GetBytes(head + "\r\n\r\n");
        using var full = new HttpResponseMessage { Content = new ResponseContent() };
        using var lean = new LeanResponse { Content = new ResponseContent() };
        Assert.Null(ResponseHeadParser.Parse(bytes, false, full, out var parsed));
        Assert.Null(ResponseHeadParser.Parse(bytes, false, lean, out _));
        Assert.Empty(lean.Headers.NonValidated);
        Assert.Empty(lean.Content.Headers.NonValidated);

        // What the forwarder reads first (a 429's or a 503's Retry-After), then the copy.
        var fullWait = ResponseHeaders.RetryAfter(full);
        var leanWait = ResponseHeaders.RetryAfter(lean);
        var fullHeaders = new HeaderDictionary();
        var leanHeaders = new HeaderDictionary();
        ResponseHeaders.Copy(full, fullHeaders);
        ResponseHeaders.Copy(lean, leanHeaders);

        Assert.True(Lines(fullHeaders) == Lines(leanHeaders), $"{name}:\n{Lines(fullHeaders)}\n---\n{Lines(leanHeaders)}");
        Assert.Equal(fullWait?.ToString(), leanWait?.ToString());

        // Retry-After means what HttpHeaders' typed property made of it before (read in place, as the forwarder did).
        using var before = new HttpResponseMessage { Content = new ResponseContent() };
        ResponseHeadParser.Parse(bytes, false, before, out _);
        Assert.Equal(before.Headers.RetryAfter?.ToString(), leanWait?.ToString());
        Assert.True(parsed.Status > 0);
    }

    [Theory]
    [MemberData(nameof(Heads))]
    public void TheCoresHeadWrittenAsTheAnswerIsRead_IsTheCopysHead(string name, string head)
    {
        // The forwarding core's answer: its fields written into its head by the parser (AnswerHead.Take), against the
        // fields copied into a head from HttpHeaders' collections by the proxy's rules (ResponseHeaders.Copy).
        var bytes = Encoding.Latin1.GetBytes(head + "\r\n\r\n");
        using var full = new HttpResponseMessage { Content = new ResponseContent() };
        Assert.Null(ResponseHeadParser.Parse(bytes, false, full, out var parsed));
        var copied = new AnswerHead();
        copied.Reset(parsed.Status);
        var target = new CoreAnswer(copied);
        ResponseHeaders.Copy(full, ref target);
        var taken = new AnswerHead();
        using var lean = new LeanResponse(taken) { Content = new ResponseContent() };
        Assert.Null(ResponseHeadParser.Parse(bytes, false, lean, out _));

        Assert.Equal(Written(copied), Written(taken));
        Assert.Equal(ResponseHeaders.RetryAfter(full)?.ToString(), ResponseHeaders.RetryAfter(lean)?.ToString());
        Assert.True(Written(taken).Length > 0, name);
    }

    [Fact]
    public void ARetryAfterIsCopiedAsItCame()
    {
        using var lean = new LeanResponse { Content = new ResponseContent() };
        ResponseHeadParser.Parse("HTTP/1.1 503 x\r\nRetry-After: Friday, 04-Dec-26 07:28:00 GMT\r\nContent-Length: 0\r\n\r\n"u8, false, lean, out _);
        var headers = new HeaderDictionary();

        Assert.Equal(new DateTimeOffset(2026, 12, 4, 7, 28, 0, TimeSpan.Zero), ResponseHeaders.RetryAfter(lean)?.Date);
        ResponseHeaders.Copy(lean, headers);

        Assert.Equal("Friday, 04-Dec-26 07:28:00 GMT", headers["Retry-After"].ToString());
    }

    [Fact]
    public void TheNameTable_IsHttpHeadersKnownNames_WithTheirCasingAndPlace()
    {
        var known = typeof(HttpClient).Assembly.GetType("System.Net.Http.Headers.KnownHeaders", throwOnError: true)!
            .GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(f => f.GetValue(null))
            .Where(v => v?.GetType().Name == "KnownHeader")
            .Select(v => (string)v!.GetType().GetProperty("Name")!.GetValue(v)!)
            .Where(n => n[0] != ':') // HTTP/2's pseudo-headers are not tokens: no HTTP/1.1 answer has them
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.True(known.Count > 90, $"{known.Count} known names: has HttpHeaders changed?");
        Assert.Equal(known, ResponseFieldNames.All.Order(StringComparer.Ordinal));
        foreach (var name in known.Concat(["X-Custom", "x-other"]))
        {
            foreach (var written in new[] { name, name.ToLowerInvariant(), name.ToUpperInvariant() })
            {
                using var response = new HttpResponseMessage { Content = new ResponseContent() };
                var content = !response.Headers.TryAddWithoutValidation(written, "v") && response.Content.Headers.TryAddWithoutValidation(written, "v");
                var kept = response.Headers.NonValidated.Concat(response.Content.Headers.NonValidated).Single().Key;

                Assert.Equal((kept, content, known.Contains(name)), ResponseFieldNames.Of(Encoding.ASCII.GetBytes(written)));
                Assert.Equal(content, ResponseFieldNames.IsContent(written.AsSpan())); // the span's lookup compares a name only with the content names of its length
                Assert.Equal(content, ResponseFieldNames.IsContent(written));
            }
        }
    }

    // A head's fields as written: names without case, sorted, a name's values in the order they came.
    private static string Written(AnswerHead head)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        head.Write(output, "GET", keepAlive: true, ended: true, "now");
        var lines = Encoding.Latin1.GetString(output.WrittenSpan).Split("\r\n").Skip(1).Where(l => l.Length > 0);
        return string.Join("\n", lines.Select((l, i) => (Line: l.ToLowerInvariant()[..l.IndexOf(':', StringComparison.Ordinal)] + l[l.IndexOf(':', StringComparison.Ordinal)..], i))
            .OrderBy(p => p.Line[..p.Line.IndexOf(':', StringComparison.Ordinal)], StringComparer.Ordinal).ThenBy(p => p.i).Select(p => p.Line));
    }

    private static string Lines(HeaderDictionary headers) =>
        string.Join("\n", headers.Select(h => $"{h.Key}: {string.Join(" | ", h.Value.Select(v => $"[{v}]"))}"));
}

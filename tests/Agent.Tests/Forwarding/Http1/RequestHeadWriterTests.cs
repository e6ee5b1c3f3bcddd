using System.Net;
using System.Text;
using Sidecar.Forwarding.Http1;

namespace Sidecar.Tests.Forwarding.Http1;

/// <summary>The request head as bytes (docs/performance.md#the-lean-http11-upstream-client): framing from the content, Host, Latin-1.</summary>
[Trait("Category", "Unit")]
public sealed class RequestHeadWriterTests
{
    private static readonly byte[] HostLine = Encoding.ASCII.GetBytes("Host: orders:8080\r\n");

    [Fact]
    public void AGet_HasTheInstancesHost_AndNoLength()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://orders:8080/a/b?c=d");
        request.Headers.TryAddWithoutValidation("X-A", "1");

        var (head, framing, _) = Write(request);

        Assert.Equal("GET /a/b?c=d HTTP/1.1\r\nHost: orders:8080\r\nX-A: 1\r\n\r\n", head);
        Assert.Equal(RequestFraming.None, framing);
    }

    [Fact]
    public void APostWithoutContent_SaysContentLength0()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://orders:8080/x");

        var (head, _, _) = Write(request);

        Assert.EndsWith("\r\nContent-Length: 0\r\n\r\n", head, StringComparison.Ordinal);
    }

    [Fact]
    public void AKnownLength_IsContentLength_NeverChunked_WhateverTheHeadersSay()
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "http://orders:8080/x") { Content = new ByteArrayContent(new byte[3]) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "text/plain");
        request.Headers.TryAddWithoutValidation("Transfer-Encoding", "chunked");

        var (head, framing, length) = Write(request);

        Assert.Equal(RequestFraming.Length, framing);
        Assert.Equal(3, length);
        Assert.Contains("\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n", head, StringComparison.Ordinal);
        Assert.DoesNotContain("Transfer-Encoding", head, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownLength_IsChunked_WithoutContentLength()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://orders:8080/x") { Content = new StreamContent(new UnknownLength()) };

        var (head, framing, _) = Write(request);

        Assert.Equal(RequestFraming.Chunked, framing);
        Assert.EndsWith("\r\nTransfer-Encoding: chunked\r\n\r\n", head, StringComparison.Ordinal);
        Assert.DoesNotContain("Content-Length", head, StringComparison.Ordinal);
    }

    [Fact]
    public void ValuesAreLatin1_OneBytePerCharacter()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://orders:8080/");
        request.Headers.TryAddWithoutValidation("X-Name", "caf\u00e9");

        var output = new HeadBuffer(16);
        RequestHeadWriter.Write(request, HostLine, output, out _, out _);

        var at = output.Written.IndexOf(Encoding.Latin1.GetBytes("X-Name: caf\u00e9\r\n"));
        Assert.True(at > 0, "the value is one byte per character: 0xE9 for \u00e9");
    }

    [Theory]
    [InlineData("a\U0001F600b")] // a surrogate pair: one '?' per character, as Latin-1's encoder replaces them
    [InlineData("\u20ac1")]
    [InlineData("\u0100x")] // the encoder's best fit: "Ax"
    public void ValuesBeyondLatin1_AreOneBytePerCharacter_NoByteLeftUnwritten(string value)
    {
        var written = Encoding.Latin1.GetString(Encoding.Latin1.GetBytes(value));
        Assert.Equal(value.Length, written.Length);
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://orders:8080/");
        request.Headers.TryAddWithoutValidation("X-Name", value);
        request.Headers.TryAddWithoutValidation("X-Next", "n");
        var output = new HeadBuffer(256);
        "\r\nX-Injected: 1\r\n\r\n\r\n\r\n"u8.CopyTo(output.Reserve(64)); // what a reused buffer may hold where a byte is left unwritten

        RequestHeadWriter.Write(request, HostLine, output, out _, out _);

        Assert.Equal($"GET / HTTP/1.1\r\nHost: orders:8080\r\nX-Name: {written}\r\nX-Next: n\r\n\r\n", Encoding.Latin1.GetString(output.Written));
    }

    [Fact]
    public void TheRequestsHost_WinsOverTheInstances_AndConnectionCloseIsSeen()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://orders:8080/");
        request.Headers.TryAddWithoutValidation("Host", "example.test");
        request.Headers.TryAddWithoutValidation("Connection", "close");

        var output = new HeadBuffer(64);
        RequestHeadWriter.Write(request, HostLine, output, out _, out var close);
        var head = Encoding.Latin1.GetString(output.Written);

        Assert.True(close);
        Assert.StartsWith("GET / HTTP/1.1\r\nHost: example.test\r\n", head, StringComparison.Ordinal);
        Assert.DoesNotContain("orders:8080", head, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("caf\u00e9")]
    [InlineData("a\U0001F600b")]
    [InlineData("\u20ac1")]
    [InlineData("")]
    public void AnAgentsField_IsTheLineOfTheSameNameAsAString(string value)
    {
        var expected = new HeadBuffer(8);
        RequestHeadWriter.Header(expected, "X-Forwarded-For", value);
        var output = new HeadBuffer(8);

        RequestHeadWriter.Header(output, new Sidecar.Platform.FieldName("X-Forwarded-For"), value);

        Assert.Equal(Encoding.Latin1.GetString(expected.Written), Encoding.Latin1.GetString(output.Written));
        Assert.StartsWith("X-Forwarded-For: ", Encoding.Latin1.GetString(output.Written), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a\rb")]
    [InlineData("a\nb")]
    [InlineData("a\0b")]
    public void AnAgentsFieldWithALineBreakOrNul_IsRefused(string value) =>
        Assert.Throws<HttpRequestException>(() => RequestHeadWriter.Header(new HeadBuffer(64), new Sidecar.Platform.FieldName("Via"), value));

    [Fact]
    public void ALineBreakInAValue_IsRefused()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://orders:8080/");
        request.Headers.TryAddWithoutValidation("X-A", "a\r\nX-Injected: 1");

        Assert.Throws<HttpRequestException>(() => RequestHeadWriter.Write(request, HostLine, new HeadBuffer(64), out _, out _));
    }

    [Theory]
    [InlineData("http://a/", "1.1", HttpVersionPolicy.RequestVersionOrLower, null, true)]
    [InlineData("http://a/", "1.1", HttpVersionPolicy.RequestVersionExact, null, true)]
    [InlineData("https://a/", "1.1", HttpVersionPolicy.RequestVersionOrLower, null, false)]
    [InlineData("http://a/", "2.0", HttpVersionPolicy.RequestVersionOrLower, null, false)]
    [InlineData("http://a/", "1.1", HttpVersionPolicy.RequestVersionOrHigher, null, false)]
    [InlineData("http://a/", "1.1", HttpVersionPolicy.RequestVersionExact, "websocket", false)]
    public void TheHandler_TakesOnlyPlainHttp11WithoutUpgrade(string url, string version, HttpVersionPolicy policy, string? upgrade, bool expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url) { Version = Version.Parse(version), VersionPolicy = policy };
        if (upgrade is not null)
        {
            request.Headers.TryAddWithoutValidation("Connection", "Upgrade");
            request.Headers.TryAddWithoutValidation("Upgrade", upgrade);
        }

        Assert.Equal(expected, LeanHttp1Handler.Takes(request));
    }

    [Theory]
    [InlineData("http://orders:8080/x", "Host: orders:8080\r\n")]
    [InlineData("http://orders/x", "Host: orders\r\n")]
    [InlineData("http://127.0.0.1:80/x", "Host: 127.0.0.1\r\n")]
    [InlineData("http://[::1]:8080/x", "Host: [::1]:8080\r\n")]
    public void TheInstancesHostLine_IsItsAuthority(string url, string expected)
    {
        using var endpoint = new Http1Endpoint(new Uri(url), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

        Assert.Equal(expected, Encoding.ASCII.GetString(endpoint.HostLine));
    }

    private static (string Head, RequestFraming Framing, long Length) Write(HttpRequestMessage request)
    {
        var output = new HeadBuffer(16); // small: the buffer grows
        var framing = RequestHeadWriter.Write(request, HostLine, output, out var length, out _);
        return (Encoding.Latin1.GetString(output.Written), framing, length);
    }

    private sealed class UnknownLength : MemoryStream
    {
        public override bool CanSeek => false;
    }
}

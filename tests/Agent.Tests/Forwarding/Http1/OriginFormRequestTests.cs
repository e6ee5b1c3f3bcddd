using System.Net;
using Sidecar.Forwarding.Http1;

namespace Sidecar.Tests.Forwarding.Http1;

/// <summary>
/// A forwarded request aimed without a URI (docs/performance.md#the-lean-http11-upstream-client): which
/// targets may go as they are, and that they are then the same bytes the URI would have given.
/// </summary>
[Trait("Category", "Unit")]
public sealed class OriginFormRequestTests
{
    private const string Prefix = "http://orders:8080";

    [Theory]
    [InlineData("/", true)]
    [InlineData("/a/b?c=d&e=f", true)]
    [InlineData("/a/../b/./c", true)]
    [InlineData("//a//b", true)]
    [InlineData("/a%2Fb?x=%20%zz", true)]
    [InlineData("/a:b@c!$&'()*+,;=-._~?/?", true)]
    [InlineData("/a#b", false)]
    [InlineData("/a b", false)]
    [InlineData("/a\\b", false)]
    [InlineData("/a{b}|^`\"<>", false)]
    [InlineData("/caf\u00e9", false)]
    [InlineData("a/b", false)]
    [InlineData("", false)]
    public void OnlyRfc3986Targets_GoWithoutAUri(string target, bool expected)
    {
        Assert.Equal(expected, OriginFormRequest.IsPlain(target));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/a/b?c=d&e=f")]
    [InlineData("/a/../b/./c")]
    [InlineData("//a//b")]
    [InlineData("/a%2Fb?x=%20%zz")]
    [InlineData("/a:b@c!$&'()*+,;=-._~?/?")]
    [InlineData("/%7e%41?%3d")]
    public void APlainTarget_IsWhatTheUriWouldHaveSent(string target)
    {
        // Before: every attempt parsed prefix + target and sent its PathAndQuery; a plain target is that string.
        Assert.Equal(target, OriginFormRequest.AbsoluteUri(Prefix, target).PathAndQuery);
    }

    [Fact]
    public void AnAimedRequest_IsWrittenWithItsTargetAsItIs()
    {
        using var request = new OriginFormRequest(HttpMethod.Get) { Version = HttpVersion.Version11 };
        request.Aim(new Http1Origin(Prefix), "/a/../b?c=%zz");

        var output = new HeadBuffer(64);
        RequestHeadWriter.Write(request, "Host: orders:8080\r\n"u8.ToArray(), output, out _, out _);

        Assert.Null(request.RequestUri);
        Assert.True(LeanHttp1Handler.Takes(request));
        Assert.StartsWith("GET /a/../b?c=%zz HTTP/1.1\r\nHost: orders:8080\r\n", System.Text.Encoding.Latin1.GetString(output.Written), StringComparison.Ordinal);
    }

    [Fact]
    public void ARequestPassedOn_GetsItsAbsoluteUri()
    {
        using var request = new OriginFormRequest(HttpMethod.Get) { Version = HttpVersion.Version20 };
        request.Aim(new Http1Origin(Prefix), "/a?b");

        request.MakeAbsolute();

        Assert.Equal("http://orders:8080/a?b", request.RequestUri?.AbsoluteUri);
    }

    [Fact]
    public void AnOriginsAddress_IsParsedOnce()
    {
        var origin = new Http1Origin("http://[::1]:8080");

        Assert.Equal(("::1", 8080, true), (origin.Host, origin.Port, origin.IsHttp));
        Assert.False(new Http1Origin("https://orders:8443").IsHttp);
    }
}

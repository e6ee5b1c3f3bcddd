using System.Net;
using Sidecar.Supervisor;

namespace Sidecar.Tests.Supervisor;

[Trait("Category", "Unit")]
public sealed class SidecarUrlTests
{
    [Theory]
    [InlineData("127.0.0.1", "http://127.0.0.1:43290")]
    [InlineData("0.0.0.0", "http://127.0.0.1:43290")]
    [InlineData("10.0.0.5", "http://10.0.0.5:43290")]
    [InlineData("::", "http://[::1]:43290")]
    [InlineData("::1", "http://[::1]:43290")]
    [InlineData("fd00::5", "http://[fd00::5]:43290")]
    [InlineData("fe80::1%2", "http://[fe80::1%252]:43290")]
    public void SidecarUrl_IsAUrlTheAppCanCall_ForEveryBindAddress(string bind, string expected)
    {
        var url = AppProcess.SidecarUrl(IPAddress.Parse(bind), 43290);

        Assert.Equal(expected, url);
        Assert.True(Uri.TryCreate(url, UriKind.Absolute, out var uri), url);
        Assert.Equal(43290, uri.Port);
    }
}

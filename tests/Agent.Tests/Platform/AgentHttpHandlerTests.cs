using System.Net;

namespace Sidecar.Tests.Platform;

/// <summary>The settings every outgoing handler of the agent shares (one place: <c>AgentHttpHandler</c>).</summary>
[Trait("Category", "Unit")]
public sealed class AgentHttpHandlerTests
{
    [Fact]
    public void Create_NoProxyNoCookiesNoRedirectNoDecompression_WithTheGivenTimeouts()
    {
        using var handler = AgentHttpHandler.Create(TimeSpan.FromSeconds(3), TimeSpan.FromMinutes(2));

        Assert.False(handler.UseProxy);
        Assert.False(handler.UseCookies);
        Assert.False(handler.AllowAutoRedirect);
        Assert.Equal(DecompressionMethods.None, handler.AutomaticDecompression);
        Assert.Equal(TimeSpan.FromSeconds(3), handler.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), handler.PooledConnectionIdleTimeout);
    }

    [Fact]
    public void Create_WithoutAnIdleTimeout_KeepsTheHandlersDefault()
    {
        using var handler = AgentHttpHandler.Create(TimeSpan.FromSeconds(1));
        using var plain = new SocketsHttpHandler();

        Assert.Equal(plain.PooledConnectionIdleTimeout, handler.PooledConnectionIdleTimeout);
    }

    [Fact]
    public void Client_HasNoTimeoutOfItsOwn()
    {
        using var client = AgentHttpHandler.Client(AgentHttpHandler.Create(TimeSpan.FromSeconds(1)));

        Assert.Equal(Timeout.InfiniteTimeSpan, client.Timeout);
    }
}

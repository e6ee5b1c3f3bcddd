using Microsoft.Extensions.Primitives;
using Sidecar.Forwarding;

namespace Sidecar.Tests.Forwarding;

[Trait("Category", "Unit")]
public sealed class UpgradeRequestTests
{
    public static TheoryData<string, string, string?, string?, bool> Requests() => new()
    {
        // method, protocol, Connection, Upgrade, asks
        { "GET", "HTTP/1.1", "Upgrade", "websocket", true },
        { "GET", "HTTP/1.1", "keep-alive, Upgrade", "websocket", true }, // Firefox
        { "GET", "HTTP/1.1", "upgrade", "h2c", true },                   // any protocol, not only WebSocket
        { "GET", "HTTP/1.1", "Upgrade", null, false },
        { "GET", "HTTP/1.1", "Upgrade", " ", false },
        { "GET", "HTTP/1.1", null, "websocket", false },                  // Upgrade alone is not asked for (RFC 9110 7.8)
        { "GET", "HTTP/1.1", "keep-alive", "websocket", false },
        { "GET", "HTTP/1.1", "Upgraded", "websocket", false },
        { "POST", "HTTP/1.1", "Upgrade", "websocket", false },
        { "GET", "HTTP/1.0", "Upgrade", "websocket", false },
        { "GET", "HTTP/2", "Upgrade", "websocket", false },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void Asks_OnlyForAnHttp11GetWithUpgrade_NamedInConnection(string method, string protocol, string? connection, string? upgrade, bool asks) =>
        Assert.Equal(asks, UpgradeRequest.Asks(method, protocol, new StringValues(connection), new StringValues(upgrade)));

    [Fact]
    public void HasToken_ReadsEveryValueAndEveryListItem() =>
        Assert.True(UpgradeRequest.HasToken(new StringValues(["close", "x, upgrade "]), "upgrade"));
}

using Sidecar.Forwarding;

namespace Sidecar.Tests.Forwarding;

/// <summary>Which <c>/v1/invoke</c> requests are forwarded before routing; the rest meet the route (docs/performance.md#what-was-tuned).</summary>
[Trait("Category", "Unit")]
public sealed class InvokeFastPathTests
{
    [Theory]
    [InlineData("/v1/invoke/orders/api/x?q=1", "/v1/invoke/orders/api/x")]
    [InlineData("/v1/invoke/orders", "/v1/invoke/orders")]
    [InlineData("/v1/invoke/orders/", "/v1/invoke/orders/")]
    [InlineData("/V1/Invoke/orders/x", "/V1/Invoke/orders/x")]
    [InlineData("/v1/invoke/or%64ers/x", "/v1/invoke/orders/x")]
    [InlineData("/v1/invoke/orders/a%2Fb", "/v1/invoke/orders/a%2Fb")]
    public void PlainInvokeTargets_AreTakenBeforeRouting(string raw, string path) =>
        Assert.True(ForwardingExtensions.IsPlainInvoke(raw, path));

    [Theory]
    [InlineData("/v1/invoke/", "/v1/invoke/")]
    [InlineData("/v1/invoke", "/v1/invoke")]
    [InlineData("/v1/invoke//x", "/v1/invoke//x")]
    [InlineData("/v1/invoke/?x=1", "/v1/invoke/")]
    [InlineData("/v1/%69nvoke/orders/x", "/v1/invoke/orders/x")]
    [InlineData("/v1/invoke/%3Fx", "/v1/invoke/?x")]
    [InlineData("/v1/invoke/../ping", "/v1/ping")]
    [InlineData("/v1/invoke/orders/../../config", "/v1/config")]
    [InlineData("http://127.0.0.1:8078/v1/invoke/orders/x", "/v1/invoke/orders/x")]
    [InlineData("/v1/invokex/orders", "/v1/invokex/orders")]
    [InlineData("/ping", "/ping")]
    public void OtherTargets_AreLeftToRouting(string raw, string path) =>
        Assert.False(ForwardingExtensions.IsPlainInvoke(raw, path));

    [Fact]
    public void NoPath_IsLeftToRouting() => Assert.False(ForwardingExtensions.IsPlainInvoke("/v1/invoke/orders", null));
}

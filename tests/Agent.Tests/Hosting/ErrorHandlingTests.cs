using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Hosting;

/// <summary>The last-resort error handling: a request the client broke is the client's 400, never the agent's 500.</summary>
public sealed class ErrorHandlingTests
{
    [Theory]
    [InlineData("PUT /v1/registration/status")]
    [InlineData("POST /v1/invoke/orders/x")]
    [InlineData("POST /proxy?vip=orders&path=/x")]
    public async Task AChunkSizeThatOverflows_IsA400Problem_NotAnUnhandledError(string requestLine)
    {
        await using var orders = await Upstream.StartAsync("orders");
        var logs = new LogCapture();
        await using var agent = await AgentHarness.StartAsync(
            new Dictionary<string, string?> { ["ROUTES"] = $"orders={orders.Url}", ["APP_HEALTH_URL"] = "" }, logs.Install);

        // Kestrel reports this one as a plain IOException (inner OverflowException), not as a BadHttpRequestException.
        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, $"{requestLine} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked", "FFFFFFFFFFFFFFFFFF\r\nabc\r\n");

        Assert.Equal(400, answer.Status);
        Assert.Equal("bad-request", answer.Header("X-Sidecar-Error"));
        Assert.DoesNotContain("Exception", answer.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Entries, e => e.StartsWith("Error", StringComparison.Ordinal));
        Assert.Equal(0, orders.Count);
    }
}

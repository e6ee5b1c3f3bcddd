using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.Hosting;
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

    [Theory]
    [Trait("Category", "Unit")]
    [InlineData("application/grpc", 200, "13", "application/grpc")]
    [InlineData("application/grpc+proto", 200, "13", "application/grpc")]
    [InlineData("application/json", 500, null, "application/problem+json")]
    [InlineData(null, 500, null, "application/problem+json")]
    public async Task AnUnexpectedFailure_IsInternal_ToAGrpcCaller_AndA500Problem_ToOthers(string? contentType, int status, string? grpcStatus, string answered)
    {
        var context = new DefaultHttpContext();
        context.Request.ContentType = contentType;
        context.Response.Body = new MemoryStream();
        var middleware = new ErrorHandlingMiddleware(_ => throw new InvalidOperationException("boom"), NullLogger<ErrorHandlingMiddleware>.Instance);

        await middleware.InvokeAsync(context);

        Assert.Equal(status, context.Response.StatusCode);
        Assert.StartsWith(answered, context.Response.ContentType, StringComparison.Ordinal);
        Assert.Equal(grpcStatus, context.Response.Headers["grpc-status"].FirstOrDefault());
        Assert.Equal("internal-error", context.Response.Headers["X-Sidecar-Error"].FirstOrDefault());
        Assert.Equal(grpcStatus is null, context.Response.Body.Length > 0); // trailers-only: no body
    }
}

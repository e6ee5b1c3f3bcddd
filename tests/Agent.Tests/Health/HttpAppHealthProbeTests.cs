using System.Text;
using Microsoft.AspNetCore.Http;
using Sidecar.Health;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Health;

public sealed class HttpAppHealthProbeTests
{
    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("""{"status":"UP"}""", "UP")]
    [InlineData("""{"status":"DOWN","components":{"db":{"status":"DOWN"}}}""", "DOWN")]
    [InlineData("""{"status":"OUT_OF_SERVICE"}""", "OUT_OF_SERVICE")]
    [InlineData("""  {"details":{"status":"DOWN"},"status":"up"}""", "UP")]
    [InlineData("""{"status":{"code":"DOWN","description":"db gone"}}""", "DOWN")]
    [InlineData("""{"status":{"description":"x","code":"OUT_OF_SERVICE"}}""", "OUT_OF_SERVICE")]
    public void ReadDeclaredStatus_FindsTheTopLevelStatus(string body, string expected) =>
        Assert.Equal(expected, HttpAppHealthProbe.ReadDeclaredStatus(Encoding.UTF8.GetBytes(body))?.ToWire());

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("")]
    [InlineData("OK")]
    [InlineData("""["UP"]""")]
    [InlineData("""{"healthy":true}""")]
    [InlineData("""{"status":"pass"}""")]
    [InlineData("""{"status":"UNKNOWN"}""")]
    [InlineData("""{"status":42}""")]
    [InlineData("""{"status":"DO""")]
    [InlineData("""{"nested":{"status":"DOWN"}}""")]
    public void ReadDeclaredStatus_DeclaresNothingOtherwise(string body) =>
        Assert.Null(HttpAppHealthProbe.ReadDeclaredStatus(Encoding.UTF8.GetBytes(body)));

    [Theory]
    [InlineData(200, "", true, null)]
    [InlineData(204, "", true, null)]
    [InlineData(200, """{"status":"DOWN"}""", false, "DOWN")]
    [InlineData(503, """{"status":"OUT_OF_SERVICE"}""", false, "OUT_OF_SERVICE")]
    [InlineData(500, "oops", false, null)]
    [InlineData(404, "", false, null)]
    [InlineData(301, "", false, null)]
    public async Task ProbeAsync_JudgesTheAnswer(int code, string body, bool healthy, string? declared)
    {
        await using var app = await LoopbackServer.StartAsync(async context =>
        {
            context.Response.StatusCode = code;
            if (code == 301)
            {
                context.Response.Headers.Location = "/elsewhere";
            }

            await context.Response.WriteAsync(body);
        });
        using var probe = new HttpAppHealthProbe(new AppHealthOptions { Url = new Uri(app.BaseUri, "health") }, TimeProvider.System);

        var result = await probe.ProbeAsync(default);

        Assert.Equal(healthy, result.Healthy);
        Assert.Equal(declared, result.ReportedStatus?.ToWire());
        Assert.Equal(code, result.StatusCode);
    }

    [Fact]
    public async Task ProbeAsync_ARefusedConnection_IsAFailureWithAPlainReason()
    {
        using var probe = new HttpAppHealthProbe(new AppHealthOptions { Url = new Uri($"http://127.0.0.1:{LoopbackServer.RefusingPort()}/health") }, TimeProvider.System);

        var result = await probe.ProbeAsync(default);

        Assert.False(result.Healthy);
        Assert.Equal("connection refused", result.Detail);
    }

    [Fact]
    public async Task ProbeAsync_AHugeBody_IsReadOnlyInPart()
    {
        await using var app = await LoopbackServer.StartAsync(async context =>
        {
            await context.Response.WriteAsync("""{"status":"UP","padding":""" + "\"");
            var chunk = new string('x', 64 * 1024);
            for (var i = 0; i < 160 && !context.RequestAborted.IsCancellationRequested; i++)
            {
                await context.Response.WriteAsync(chunk, context.RequestAborted);
            }
        });
        using var probe = new HttpAppHealthProbe(new AppHealthOptions { Url = app.BaseUri }, TimeProvider.System);

        var result = await probe.ProbeAsync(default);

        Assert.True(result.Healthy);
        Assert.Equal(InstanceStatus.Up, result.ReportedStatus);
    }
}

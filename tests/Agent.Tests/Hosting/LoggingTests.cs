using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Hosting;

/// <summary>The real process's stdout: readable text by default, one JSON object per line with SIDECAR_LOG_FORMAT=json, one line per request.</summary>
public sealed partial class LoggingTests
{
    [Fact]
    public async Task JsonFormat_WritesOneJsonObjectPerLine_AndOneLinePerRequest()
    {
        var port = LoopbackServer.FreePort();
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["SIDECAR_LOG_FORMAT"] = "json",
            ["Sidecar__RequestLog"] = "all",
        });
        await agent.WaitForOutputAsync("listening on");
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };

        await client.GetStringAsync("/ping?secret=s3cr3t");
        await agent.WaitForOutputAsync("GET /ping");

        var lines = agent.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            using var entry = JsonDocument.Parse(line);
            Assert.Equal(JsonValueKind.String, entry.RootElement.GetProperty("@t").ValueKind);
            Assert.Equal(JsonValueKind.String, entry.RootElement.GetProperty("@m").ValueKind);
            Assert.Equal(JsonValueKind.String, entry.RootElement.GetProperty("@l").ValueKind);
        }

        var requestLine = Assert.Single(lines, l => l.Contains("GET /ping", StringComparison.Ordinal));
        using var request = JsonDocument.Parse(requestLine);
        Assert.StartsWith("GET /ping 200 ", request.RootElement.GetProperty("@m").GetString(), StringComparison.Ordinal);
        Assert.Equal(200, request.RootElement.GetProperty("StatusCode").GetInt32());
        Assert.DoesNotContain("s3cr3t", agent.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TextFormat_IsTheDefault()
    {
        var port = LoopbackServer.FreePort();
        await using var agent = AgentProcess.Start(new Dictionary<string, string> { ["SIDECAR_PORT"] = port.ToString(CultureInfo.InvariantCulture) });
        await agent.WaitForOutputAsync("listening on");

        var first = agent.Stdout.Split('\n')[0];
        Assert.Matches(TextLine(), first);
    }

    [GeneratedRegex(@"^\d\d:\d\d:\d\d\.\d{3} (INF|WRN|ERR|DBG|VRB|FTL) Sidecar\.[A-Za-z.]+: .+$")]
    private static partial Regex TextLine();
}

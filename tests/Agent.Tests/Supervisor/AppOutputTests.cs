using System.Globalization;
using System.Text;
using Sidecar.Supervisor;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Supervisor;

/// <summary>The supervised app's output shares the agent's stdout whole lines at a time.</summary>
public sealed class AppOutputTests
{
    [Fact]
    public async Task TheAgentsLogLines_NeverLandInsideTheAppsLines_EvenWhenTheAppWritesALineInPieces()
    {
        // Each app line is written in three pieces with pauses between them: passed through as is, the
        // agent's request lines (one per call below) would land between the pieces.
        const string script = """
            import os, time
            print("child " + "ready", flush=True)
            for i in range(150):
                line = "APP-%04d-" % i + "x" * 3000 + "-END\n"
                b = line.encode()
                os.write(1, b[:1000]); time.sleep(0.001)
                os.write(1, b[1000:2000]); time.sleep(0.001)
                os.write(1, b[2000:])
            """;
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["SIDECAR_PORT"] = "0",
            ["APP_HEALTH_URL"] = "",
            ["APP_PORT"] = "4567",
            ["Sidecar__RequestLog"] = "all", // the agent's request lines interleave with the app's
        }, "run", "--", "python3", "-c", script);
        await agent.WaitForOutputAsync("child ready");
        var port = (await agent.WaitForApiAsync()).Port; // port 0: the one the agent bound

        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        var calls = 0;
        while (!agent.HasExited && calls < 2000)
        {
            try
            {
                await client.GetAsync(new Uri($"http://127.0.0.1:{port}/v1/services")); // not a probe: it gets a log line
                calls++;
            }
            catch (HttpRequestException)
            {
                break; // the agent stopped with the app
            }
        }

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var appLines = agent.Stdout.Split('\n').Where(l => l.Contains("APP-0", StringComparison.Ordinal) || l.Contains("xxxxxxxxxx", StringComparison.Ordinal)).ToList();
        Assert.Equal(150, appLines.Count);
        for (var i = 0; i < appLines.Count; i++)
        {
            Assert.Equal($"APP-{i:0000}-" + new string('x', 3000) + "-END", appLines[i]);
        }

        Assert.Contains("GET /v1/services 200", agent.Stdout, StringComparison.Ordinal);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Copy_WritesWholeLines_CutsALineLongerThanTheBuffer_AndEndsALastLineWithoutANewline()
    {
        var longLine = new string('y', LinePump.BufferSize + 10);
        var input = "one\ntwo\n" + longLine + "\nlast";
        using var source = new MemoryStream(Encoding.UTF8.GetBytes(input));
        using var target = new MemoryStream();

        LinePump.Copy(source, target, new Lock());

        var lines = Encoding.UTF8.GetString(target.ToArray()).Split('\n');
        Assert.Equal(["one", "two", new string('y', LinePump.BufferSize), new string('y', 10), "last", ""], lines);
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Examples;

/// <summary>
/// The example apps' config long-poll against a fake agent that answers every poll at once, as a
/// stopping agent does (304 without waiting) or a broken one (503): the apps pause before asking
/// again instead of polling thousands of times a second.
/// </summary>
public sealed class ExampleAppsLongPollTests
{
    // The apps pause 1 s, then 2 s, 4 s, 5 s...: in 4 s that is the first 200, the poll right after
    // it, and 2 or 3 more. Without a pause it is thousands.
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(4);
    private const int MostPollsInTheWindow = 8;

    [Theory]
    [InlineData("python3", "python-app/app.py", 304)]
    [InlineData("node", "node-app/app.js", 304)]
    [InlineData("python3", "python-app/app.py", 503)]
    [InlineData("node", "node-app/app.js", 503)]
    public async Task AnAgentAnsweringEveryLongPollAtOnce_IsNotFlooded(string runtime, string script, int status)
    {
        var polls = new ConcurrentQueue<(DateTimeOffset At, string? IfNoneMatch)>();
        await using var agent = await LoopbackServer.StartAsync(context =>
        {
            if (context.Request.Path != "/v1/config")
            {
                context.Response.StatusCode = 404;
                return Task.CompletedTask;
            }

            var ifNoneMatch = context.Request.Headers.IfNoneMatch.Count > 0 ? context.Request.Headers.IfNoneMatch.ToString() : null;
            polls.Enqueue((DateTimeOffset.UtcNow, ifNoneMatch));
            if (ifNoneMatch is null)
            {
                // The first read: the config, at once, as the real agent answers without If-None-Match.
                context.Response.Headers.ETag = "\"1\"";
                context.Response.ContentType = "application/json";
                return context.Response.WriteAsync("""{"message":"hello","greeting.text":"hello"}""");
            }

            context.Response.StatusCode = status;
            return Task.CompletedTask;
        });

        using var app = StartApp(runtime, script, agent.BaseUri);
        try
        {
            await Eventually.TrueAsync(() => !polls.IsEmpty || app.HasExited, "the app polled its config", TimeSpan.FromSeconds(20));
            if (app.HasExited)
            {
                Assert.Fail($"the app exited with code {app.ExitCode}");
            }

            var first = polls.First().At;
            await Task.Delay(Window); // real seconds: the app is another process, a fake clock cannot reach it
            var inWindow = polls.Where(p => p.At - first <= Window).ToList();

            Assert.True(inWindow.Count <= MostPollsInTheWindow, $"{inWindow.Count} polls in {Window.TotalSeconds} s: the app does not pause after early answers");
            Assert.True(inWindow.Count >= 3, $"only {inWindow.Count} polls in {Window.TotalSeconds} s: the app stopped following its config");
            Assert.Null(inWindow[0].IfNoneMatch);
            Assert.All(inWindow.Skip(1), p => Assert.Equal("\"1\"", p.IfNoneMatch));

            // A new config is no early answer to pause after: the poll that follows it goes out at once, well before
            // the first pause (1 s) would end. The margin is for the app's process on a busy machine (508 ms seen once).
            Assert.True(inWindow[1].At - inWindow[0].At < TimeSpan.FromMilliseconds(800), $"the poll after the config came {(inWindow[1].At - inWindow[0].At).TotalMilliseconds:0} ms later");
        }
        finally
        {
            app.Kill(entireProcessTree: true);
            await app.WaitForExitAsync();
        }
    }

    private static Process StartApp(string runtime, string script, Uri agent)
    {
        var start = new ProcessStartInfo(runtime)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Repository.PathOf(["examples", .. script.Split('/')]));
        start.Environment["APP_PORT"] = "0"; // nothing calls the app here: any free port, picked where it is bound
        start.Environment["SIDECAR_URL"] = agent.AbsoluteUri.TrimEnd('/');
        start.Environment["HTTP_PROXY"] = agent.AbsoluteUri.TrimEnd('/');
        var process = Process.Start(start)!;

        // Drained, so an app that logs every early answer never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}

using System.Globalization;
using System.Text.RegularExpressions;
using Sidecar.Eureka;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Examples;

/// <summary>
/// examples/node-grpc end to end: the grpc-js server under its agent (<c>agent run</c>, <c>APP_HEALTH_URL=grpc://...</c>),
/// registered in the fake Eureka and following its health service; the client calling it through another agent's
/// gRPC port (<c>SIDECAR_GRPC_PORT</c>) by <c>:authority</c>.
/// </summary>
public sealed partial class NodeGrpcExampleTests
{
    private static readonly NodeScripts Example = new(Repository.PathOf("examples", "node-grpc"), "@grpc/grpc-js");

    [Fact]
    public async Task TheServer_RegistersWithAGrpcHealthCheck_AndTheClientCallsItThroughTheAgentsGrpcPort()
    {
        await Example.EnsureInstalledAsync();
        await using var eureka = await FakeEureka.StartAsync();
        var port = Tools.FreePort();
        var p = port.ToString(CultureInfo.InvariantCulture);
        await using var server = AgentProcess.Start(
            Environment(eureka, "greeter", ("APP_PORT", p), ("APP_HEALTH_URL", $"grpc://127.0.0.1:{p}/greeter.Greeter")),
            "run", "--", "node", Path.Combine(Example.Folder, "server.js"));
        await using var caller = AgentProcess.Start(
            Environment(eureka, "caller", ("APP_PORT", Tools.FreePort().ToString(CultureInfo.InvariantCulture)), ("APP_HEALTH_URL", ""), ("SIDECAR_GRPC_PORT", "0")));
        var grpc = (await caller.WaitForListenersAsync(TimeSpan.FromSeconds(30)))[1]; // the API, then the gRPC port

        var id = $"127.0.0.1:greeter:{p}";
        await Eventually.TrueAsync(() => eureka.Instance("GREETER", id)?.Status == InstanceStatus.Up, "greeter UP in Eureka (SERVING)", TimeSpan.FromSeconds(30));
        var replies = await CallAsync(grpc, expectSuccess: true);
        Assert.Equal($$"""{"message":"hello test","server":"greeter:{{p}}"}""", replies[0]);
        Assert.Equal(2, replies.Length);

        // SIGUSR2 turns the server's health NOT_SERVING: DOWN in Eureka, and the caller's agent stops sending to it.
        var pid = int.Parse(ServerPid().Match(server.Stdout).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.Equal(0, Kill(pid, 12));
        await Eventually.TrueAsync(() => eureka.Instance("GREETER", id)?.Status == InstanceStatus.Down, "greeter DOWN in Eureka (NOT_SERVING)", TimeSpan.FromSeconds(30));
        Assert.Contains("App health UP -> DOWN (NOT_SERVING)", server.Stdout, StringComparison.Ordinal);
        // The caller's agent may see DOWN between the client's two calls: the first can still be answered, the last fails.
        Assert.Contains("\"code\":\"UNAVAILABLE\"", (await CallAsync(grpc, expectSuccess: false))[^1], StringComparison.Ordinal);

        Assert.Equal(0, Kill(pid, 12));
        await Eventually.TrueAsync(() => eureka.Instance("GREETER", id)?.Status == InstanceStatus.Up, "greeter UP again", TimeSpan.FromSeconds(30));
        await CallAsync(grpc, expectSuccess: true);
    }

    /// <summary>Runs client.js until its calls succeed (or fail, as asked): the caller's agent sees a change at its next registry fetch.</summary>
    private static async Task<string[]> CallAsync(Uri grpc, bool expectSuccess)
    {
        var last = "";
        string[] lines = [];
        await Eventually.TrueAsync(async () =>
        {
            var (exitCode, stdout, stderr) = await Example.NodeAsync(["client.js", grpc.Authority, "greeter", "test", "2"], "the node-grpc client");
            last = stdout + stderr;
            lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return (exitCode == 0) == expectSuccess;
        }, $"the client's calls {(expectSuccess ? "succeed" : "fail")}: {last}", TimeSpan.FromSeconds(30));
        return lines;
    }

    private static Dictionary<string, string> Environment(FakeEureka eureka, string name, params (string Key, string Value)[] settings)
    {
        var env = new Dictionary<string, string>
        {
            ["APP_NAME"] = name,
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
            ["SIDECAR_DRAIN"] = "0s",
            ["EUREKA_URLS"] = eureka.ServiceUrl.ToString(),
            ["APP_HOST"] = "127.0.0.1",
            ["APP_IP"] = "127.0.0.1",
            ["EUREKA_PREFER_IP"] = "true",
            ["EUREKA_RENEW_INTERVAL"] = "1s",
            ["EUREKA_FETCH_INTERVAL"] = "1s",
            ["APP_HEALTH_INTERVAL"] = "300ms",
            ["APP_HEALTH_FAILURE_THRESHOLD"] = "1",
        };
        foreach (var (key, value) in settings)
        {
            env[key] = value;
        }

        return env;
    }

    [GeneratedRegex(@"\[greeter\] listening on .* pid (\d+)")]
    private static partial Regex ServerPid();

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

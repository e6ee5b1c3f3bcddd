using System.Diagnostics;
using System.Globalization;
using System.Net;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Tcp;

/// <summary>
/// examples/postgres end to end: its script runs a real PostgreSQL under a real agent process, registered in
/// Eureka with a TCP health check; the python example, beside an agent with a TCP listener to <c>postgres</c>,
/// reaches it by name (<c>GET /db</c>), and so does psql.
/// </summary>
public sealed class PostgresExampleTests
{
    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    [PostgresFact]
    public async Task ThePostgresExample_RegistersPostgres_AndThePythonAppReachesItByName_ThroughATcpListener()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var folder = Directory.CreateTempSubdirectory("sidecar-pg-example-");
        var pgPort = Tools.FreePort();
        using var script = StartScript(new Dictionary<string, string>
        {
            ["AGENT"] = $"dotnet exec {AgentProcess.AgentDll}",
            ["PG_PORT"] = P(pgPort),
            ["PGDATA"] = Path.Combine(folder.FullName, "data"),
            ["EUREKA_URLS"] = eureka.ServiceUrl.AbsoluteUri,
            ["EUREKA_INSTANCE_ID"] = "postgres-1",
            ["SIDECAR_PORT"] = "0", // the agent picks its API port; these tests do not call it
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
            ["SIDECAR_DRAIN"] = "0s",
            ["APP_HEALTH_INTERVAL"] = "300ms",
        });
        var output = new System.Text.StringBuilder();
        script.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        script.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        script.BeginOutputReadLine();
        script.BeginErrorReadLine();
        try
        {
            await Eventually.TrueAsync(() => eureka.Instance("POSTGRES", "postgres-1")?.Status == InstanceStatus.Up || script.HasExited,
                "PostgreSQL registered UP by its agent", TimeSpan.FromSeconds(60));
            Assert.False(script.HasExited, "the example stopped: " + output);
            Assert.Equal(pgPort, eureka.Instance("POSTGRES", "postgres-1")!.Port);

            var appPort = Tools.FreePort(); // the example app takes a port number and does not report one it picked
            await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
            {
                ["APP_NAME"] = "python-app",
                ["APP_PORT"] = P(appPort),
                ["APP_HEALTH_URL"] = "",
                ["EUREKA_URLS"] = eureka.ServiceUrl.AbsoluteUri,
                ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
                ["SIDECAR_TCP_LISTENERS"] = "0=postgres",
            });
            var listener = TcpListenerTests.ListenerPort(agent, "postgres");
            await Eventually.TrueAsync(() => agent.Get<Sidecar.Discovery.ServiceCatalog>().GetInstances("postgres") is { Count: > 0 }, "the caller's agent found postgres in Eureka");
            using var app = StartPython(appPort, agent.BaseUri, listener);
            try
            {
                using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
                await Eventually.TrueAsync(() => Tools.AcceptsAsync(appPort), "the python app listens");

                var db = await http.GetAsync(new Uri($"http://127.0.0.1:{appPort}/db"));
                Assert.Equal(HttpStatusCode.OK, db.StatusCode);
                Assert.Contains("\"database\": \"postgres\"", await db.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                Assert.Equal((0, "ok\n"), await PostgresServer.PsqlAsync(listener, "select 'ok'"));

                // PostgreSQL's agent stops: the instance leaves Eureka, the server stops, the listener has nowhere to go.
                _ = Kill(script.Id, 15);
                using (var exited = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
                {
                    await script.WaitForExitAsync(exited.Token);
                }

                Assert.True(script.ExitCode == 0, $"exit code {script.ExitCode}: {output}");
                Assert.Null(eureka.Instance("POSTGRES", "postgres-1"));
                Assert.Equal(HttpStatusCode.BadGateway, (await http.GetAsync(new Uri($"http://127.0.0.1:{appPort}/db"))).StatusCode);
            }
            finally
            {
                app.Kill();
            }
        }
        finally
        {
            if (!script.HasExited)
            {
                script.Kill(entireProcessTree: true);
            }

            folder.Delete(recursive: true);
        }
    }

    private static Process StartScript(Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Repository.PathOf("examples", "postgres", "run.sh"));
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("SIDECAR_", StringComparison.Ordinal) || k.StartsWith("APP_", StringComparison.Ordinal) || k.StartsWith("EUREKA_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return Process.Start(start)!;
    }

    private static Process StartPython(int port, Uri agent, int dbPort)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Repository.PathOf("examples", "python-app", "app.py"));
        start.Environment["APP_PORT"] = P(port);
        start.Environment["APP_BIND"] = "127.0.0.1";
        start.Environment["SIDECAR_URL"] = agent.AbsoluteUri.TrimEnd('/');
        start.Environment["DB_PORT"] = P(dbPort);
        var process = Process.Start(start)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

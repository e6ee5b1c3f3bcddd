using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Sidecar.Health;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Examples;

/// <summary>
/// The real example apps (python3 and node) each under a real agent process (<c>agent run -- ...</c>),
/// against the fake Eureka and the fake Config Server: what a newcomer's mesh does, end to end.
/// </summary>
public sealed class ExampleAppsEndToEndTests : IAsyncLifetime
{
    private readonly string _data = Directory.CreateTempSubdirectory("examples-e2e").FullName;
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(15) };
    // Every port is picked where it is bound: each agent listens on port 0 and logs the port; each app gets
    // the free port its agent picked (agent run without APP_PORT) and prints it.
    private int _pythonPort;
    private int _nodePort;
    private int _pythonAgentPort;
    private int _nodeAgentPort;
    private FakeEureka _eureka = null!;
    private FakeConfigServer _config = null!;
    private AgentProcess _pythonAgent = null!;
    private AgentProcess _nodeAgent = null!;

    private string PythonAgent => $"http://127.0.0.1:{_pythonAgentPort}";

    private string NodeAgent => $"http://127.0.0.1:{_nodeAgentPort}";

    public async Task InitializeAsync()
    {
        _eureka = await FakeEureka.StartAsync();
        _config = await FakeConfigServer.StartAsync();
        _config.Set("python-app", new Dictionary<string, object?> { ["message"] = "from the config server" });
        _config.Set("node-app", new Dictionary<string, object?> { ["greeting.text"] = "hello" });

        _pythonAgent = AgentProcess.Start(Environment("python-app"),
            "run", "--", "python3", Repository.PathOf("examples", "python-app", "app.py"));
        // Its calls go through its agent as HTTP proxy: without HTTP_PROXY the app takes SIDECAR_URL for it.
        _nodeAgent = AgentProcess.Start(Environment("node-app"), "run", "--", "node", Repository.PathOf("examples", "node-app", "app.js"));
        _pythonAgentPort = (await _pythonAgent.WaitForApiAsync(TimeSpan.FromSeconds(30))).Port;
        _nodeAgentPort = (await _nodeAgent.WaitForApiAsync(TimeSpan.FromSeconds(30))).Port;
        _pythonPort = await AppPortAsync(_pythonAgent, "python-app");
        _nodePort = await AppPortAsync(_nodeAgent, "node-app");
    }

    public async Task DisposeAsync()
    {
        // Kept for a failed run: what each agent and its app printed.
        var logs = Path.Combine(AppContext.BaseDirectory, "TestResults");
        Directory.CreateDirectory(logs);
        await File.WriteAllTextAsync(Path.Combine(logs, "e2e-python-app.log"), _pythonAgent.Stdout + _pythonAgent.Stderr);
        await File.WriteAllTextAsync(Path.Combine(logs, "e2e-node-app.log"), _nodeAgent.Stdout + _nodeAgent.Stderr);
        _client.Dispose();
        await _pythonAgent.DisposeAsync();
        await _nodeAgent.DisposeAsync();
        await _eureka.DisposeAsync();
        await _config.DisposeAsync();
        Directory.Delete(_data, recursive: true);
    }

    [Fact]
    public async Task TheExampleApps_Register_CallEachOther_FollowConfig_AndLeaveRotationWhenUnhealthy()
    {
        // Both registered with the right host, port and status.
        await Eventually.TrueAsync(() => Status("PYTHON-APP", _pythonPort) == InstanceStatus.Up && Status("NODE-APP", _nodePort) == InstanceStatus.Up,
            "both apps are UP in Eureka", TimeSpan.FromSeconds(45));
        var python = _eureka.Instance("PYTHON-APP", $"127.0.0.1:python-app:{_pythonPort}")!;
        Assert.Equal("127.0.0.1", python.HostName);
        Assert.Equal("127.0.0.1", python.IpAddr);
        Assert.Equal(_pythonPort, python.Port);
        Assert.Equal("python-app", python.VipAddress);
        Assert.Equal($"http://127.0.0.1:{_pythonAgentPort}/actuator/health", python.HealthCheckUrl); // as a Spring Boot app registers it (docs/actuator.md#registration)

        // python-app -> node-app through /v1/invoke, and node-app -> python-app with the agent as HTTP proxy.
        var greet = await EventuallyGetJsonAsync($"{PythonAgent}/v1/invoke/python-app/greet", "python-app calls node-app");
        Assert.Equal("node-app", greet.GetProperty("peer").GetProperty("from").GetString());
        Assert.Equal("hello", greet.GetProperty("peer").GetProperty("text").GetString());
        var chain = await EventuallyGetJsonAsync($"{NodeAgent}/v1/invoke/node-app/chain", "node-app calls python-app");
        Assert.Equal("from the config server", chain.GetProperty("peer").GetProperty("message").GetString());

        // A config edit on the server reaches the app (agent poll + the app's long-poll).
        _config.SetProperty("node-app", "greeting.text", "bonjour");
        _config.Version = "rev-2";
        await Eventually.TrueAsync(async () => (await TryGetJsonAsync($"{PythonAgent}/v1/invoke/python-app/greet"))?
            .GetProperty("peer").GetProperty("text").GetString() == "bonjour", "node-app serves the edited greeting", TimeSpan.FromSeconds(20));

        // node-app's health fails: DOWN in Eureka, and python-app's agent stops sending to it.
        using (var sick = await _client.PostAsync($"http://127.0.0.1:{_nodePort}/admin/health", new StringContent("""{"healthy":false}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, sick.StatusCode);
        }

        await Eventually.TrueAsync(() => Status("NODE-APP", _nodePort) == InstanceStatus.Down, "node-app is DOWN in Eureka", TimeSpan.FromSeconds(20));
        await Eventually.TrueAsync(async () =>
        {
            using var response = await _client.GetAsync($"{PythonAgent}/v1/invoke/node-app/greeting");
            return response.StatusCode == HttpStatusCode.ServiceUnavailable &&
                response.Headers.TryGetValues("X-Sidecar-Error", out var codes) && codes.Single() == "no-instance";
        }, "python-app's agent stops routing to node-app", TimeSpan.FromSeconds(20));
        var failed = await TryGetJsonAsync($"{PythonAgent}/v1/invoke/python-app/greet");
        Assert.Null(failed); // python-app answers 502 with the agent's error code: no call reached node-app
    }

    // The port the app printed it listens on ("[python-app] listening on 0.0.0.0:PORT, ..."), through its agent's output.
    private static async Task<int> AppPortAsync(AgentProcess agent, string name)
    {
        await agent.WaitForOutputAsync($"[{name}] listening on ", TimeSpan.FromSeconds(30));
        var match = System.Text.RegularExpressions.Regex.Match(agent.Stdout, $@"\[{name}\] listening on \S+:(?<port>\d+),");
        Assert.True(match.Success, $"{name} printed its port; stdout: {agent.Stdout}");
        return int.Parse(match.Groups["port"].Value, CultureInfo.InvariantCulture);
    }

    private Dictionary<string, string> Environment(string name) => new()
    {
        ["APP_NAME"] = name,
        ["SIDECAR_PORT"] = "0",
        ["SIDECAR_DATA_DIR"] = Path.Combine(_data, name),
        ["SIDECAR_DRAIN"] = "0s",
        ["EUREKA_URLS"] = _eureka.ServiceUrl.ToString(),
        ["APP_HOST"] = "127.0.0.1",
        ["APP_IP"] = "127.0.0.1",
        ["EUREKA_PREFER_IP"] = "true",
        ["EUREKA_RENEW_INTERVAL"] = "1s",
        ["EUREKA_FETCH_INTERVAL"] = "1s",
        ["APP_HEALTH_INTERVAL"] = "300ms",
        ["APP_HEALTH_FAILURE_THRESHOLD"] = "1",
        ["CONFIG_SERVER_URLS"] = _config.BaseUri.ToString(),
        ["CONFIG_POLL_INTERVAL"] = "1s",
    };

    private InstanceStatus? Status(string app, int port) =>
        _eureka.Instance(app, $"127.0.0.1:{app.ToLowerInvariant()}:{port}")?.Status;

    private async Task<JsonElement> EventuallyGetJsonAsync(string url, string because)
    {
        JsonElement? result = null;
        await Eventually.TrueAsync(async () => (result = await TryGetJsonAsync(url)) is not null, because, TimeSpan.FromSeconds(20));
        return result!.Value;
    }

    private async Task<JsonElement?> TryGetJsonAsync(string url)
    {
        try
        {
            using var response = await _client.GetAsync(url);
            return response.IsSuccessStatusCode ? JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone() : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}

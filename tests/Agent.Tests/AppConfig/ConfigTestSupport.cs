using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.AppConfig;

/// <summary>A temp data dir, the agent environment for a fake Config Server, and reading <c>/v1/config</c>.</summary>
internal sealed class ConfigTestSupport : IDisposable
{
    public ConfigTestSupport()
    {
        DataDir = Path.Combine(Path.GetTempPath(), "sidecar-config-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(DataDir);
    }

    public string DataDir { get; }

    public string LastKnownGoodPath => Path.Combine(DataDir, "config.lkg");

    public TestClock Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public LogCapture Logs { get; } = new();

    public Dictionary<string, string?> Environment(FakeConfigServer? server, params (string Key, string? Value)[] extra)
    {
        var env = new Dictionary<string, string?>
        {
            ["APP_NAME"] = "orders",
            ["SIDECAR_DATA_DIR"] = DataDir,
        };
        if (server is not null)
        {
            env["CONFIG_SERVER_URLS"] = server.BaseUri.ToString();
        }

        foreach (var (key, value) in extra)
        {
            env[key] = value;
        }

        return env;
    }

    /// <summary>The agent in-process on the fake clock, its logs captured.</summary>
    public Task<AgentHarness> StartAgentAsync(Dictionary<string, string?> environment) =>
        AgentHarness.StartAsync(environment, services =>
        {
            services.AddSingleton<TimeProvider>(Time);
            Logs.Install(services);
        });

    public string WriteFile(string name, string content)
    {
        var path = Path.Combine(DataDir, name);
        File.WriteAllText(path, content);
        return path;
    }

    public static async Task<(Dictionary<string, string> Values, string ETag)> GetConfigAsync(HttpClient client, string query = "")
    {
        using var response = await client.GetAsync("v1/config" + query);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var values = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>();
        return (values!, response.Headers.ETag!.ToString());
    }

    /// <summary>The config version an ETag carries: <c>"4-9f86d081884c7d65"</c> is version 4.</summary>
    public static long VersionOf(string etag)
    {
        var match = System.Text.RegularExpressions.Regex.Match(etag, "^\"([0-9]+)-[0-9a-f]{16}\"$");
        Assert.True(match.Success, $"{etag} is \"{{version}}-{{16 hex digits}}\"");
        return long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<JsonElement> ConfigHealthAsync(HttpClient client)
    {
        var health = await client.GetFromJsonAsync<JsonElement>("v1/health");
        return health.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "config");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.AppConfig;

/// <summary>CONFIG_SEED_FILE: a new pod starts with a config during a Config Server outage, when it has no last-known-good copy.</summary>
public sealed class SeedFileTests : IDisposable
{
    private readonly ConfigTestSupport _support = new();

    public void Dispose() => _support.Dispose();

    private static string DeadServer => $"http://127.0.0.1:{LoopbackServer.RefusingPort()}/";

    [Fact]
    public async Task WithNoServerAndNoCopy_TheSeedIsServed_AndHealthSaysSo()
    {
        var seed = _support.WriteFile("seed.yml", "db:\n  url: jdbc:seed\ngreeting: hello\n");
        var environment = _support.Environment(null, ("CONFIG_SERVER_URLS", DeadServer), ("CONFIG_SEED_FILE", seed), ("CONFIG_FAIL_FAST", "true"),
            ("AppConfig__Retry__MaxAttempts", "1"));

        await using var agent = await _support.StartAgentAsync(environment);

        var (values, _) = await ConfigTestSupport.GetConfigAsync(agent.Client);
        Assert.Equal(new Dictionary<string, string> { ["db.url"] = "jdbc:seed", ["greeting"] = "hello" }, values);
        var health = await ConfigTestSupport.ConfigHealthAsync(agent.Client);
        Assert.True(health.GetProperty("ready").GetBoolean());
        Assert.StartsWith("seed: " + seed, health.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(_support.Logs.Contains("serving the seed file"));
    }

    [Fact]
    public async Task WhenTheServerAnswers_TheSeedIsNotUsed()
    {
        await using var server = await FakeConfigServer.StartAsync();
        server.Set("orders", new Dictionary<string, object?> { ["db.url"] = "jdbc:server" });
        var seed = _support.WriteFile("seed.properties", "db.url=jdbc:seed\n");

        await using var agent = await _support.StartAgentAsync(_support.Environment(server, ("CONFIG_SEED_FILE", seed)));

        var (values, _) = await ConfigTestSupport.GetConfigAsync(agent.Client);
        Assert.Equal("jdbc:server", values["db.url"]);
    }

    [Fact]
    public async Task WithALastKnownGoodCopy_TheCopyWinsOverTheSeed()
    {
        await using (var server = await FakeConfigServer.StartAsync())
        {
            server.Set("orders", new Dictionary<string, object?> { ["db.url"] = "jdbc:saved" });
            await using var first = await _support.StartAgentAsync(_support.Environment(server));
            await ConfigTestSupport.GetConfigAsync(first.Client);
        }

        var seed = _support.WriteFile("seed.properties", "db.url=jdbc:seed\n");
        await using var agent = await _support.StartAgentAsync(_support.Environment(null, ("CONFIG_SERVER_URLS", DeadServer), ("CONFIG_SEED_FILE", seed)));

        var (values, _) = await ConfigTestSupport.GetConfigAsync(agent.Client);
        Assert.Equal("jdbc:saved", values["db.url"]);
    }

    [Theory]
    [InlineData("missing.yml", null, "CONFIG_SEED_FILE (AppConfig:SeedFile): '{0}' does not exist")]
    [InlineData("broken.json", "{not json", "CONFIG_SEED_FILE (AppConfig:SeedFile): '{0}': ")]
    public async Task ASeedThatCannotBeRead_StopsTheStart_EvenWithTheServerUp(string name, string? content, string expected)
    {
        await using var server = await FakeConfigServer.StartAsync();
        server.Set("orders", new Dictionary<string, object?> { ["db.url"] = "jdbc:server" });
        var path = content is null ? Path.Combine(_support.DataDir, name) : _support.WriteFile(name, content);

        var error = await Assert.ThrowsAsync<Sidecar.Configuration.InvalidConfigurationException>(() =>
            _support.StartAgentAsync(_support.Environment(server, ("CONFIG_SEED_FILE", path))));

        Assert.StartsWith("invalid configuration: " + string.Format(System.Globalization.CultureInfo.InvariantCulture, expected, path), error.Message, StringComparison.Ordinal);
    }
}

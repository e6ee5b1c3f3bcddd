using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.AppConfig;
using Sidecar.Tests.Fakes;

namespace Sidecar.Tests.AppConfig;

/// <summary>The last-known-good copy: written atomically after good loads, served when every server is down at start, never trusted when damaged.</summary>
public sealed class LastKnownGoodTests : IAsyncLifetime
{
    private readonly ConfigTestSupport _support = new();
    private FakeConfigServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeConfigServer.StartAsync();
        _server.Set("orders", new Dictionary<string, object?> { ["db.url"] = "jdbc:orders", ["db.password"] = "pw" });
        _server.Set("application", new Dictionary<string, object?> { ["greeting"] = "hello" });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _support.Dispose();
    }

    private async Task<(Dictionary<string, string> Values, string ETag)> RunOnceWithTheServerUpAsync(params (string, string?)[] extra)
    {
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server, extra));
        return await ConfigTestSupport.GetConfigAsync(agent.Client);
    }

    [Fact]
    public async Task Restart_WithEveryServerDown_ServesTheLastKnownGoodCopy_AndSaysSoInHealthAndLog()
    {
        var served = await RunOnceWithTheServerUpAsync();
        await _server.StopAsync();

        await using var agent = await _support.StartAgentAsync(_support.Environment(_server));

        var (values, etag) = await ConfigTestSupport.GetConfigAsync(agent.Client);
        Assert.Equal(served.Values, values);
        Assert.Equal(served.ETag, etag); // same content, same version across the restart
        var health = await ConfigTestSupport.ConfigHealthAsync(agent.Client);
        Assert.True(health.GetProperty("ready").GetBoolean());
        Assert.StartsWith("last-known-good: ", health.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("connection refused", health.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(_support.Logs.Contains("serving the last-known-good copy"));
    }

    [Fact]
    public async Task Restart_WithFailFastAndEveryServerDown_StartsFromTheCopy()
    {
        await RunOnceWithTheServerUpAsync();
        await _server.StopAsync();

        await using var agent = await _support.StartAgentAsync(_support.Environment(_server,
            ("CONFIG_FAIL_FAST", "true"), ("AppConfig__Retry__MaxAttempts", "1")));

        Assert.Equal("jdbc:orders", (await ConfigTestSupport.GetConfigAsync(agent.Client)).Values["db.url"]);
    }

    [Fact]
    public async Task Restart_ServerBackWithNewContent_ContinuesTheVersionFromTheCopy()
    {
        await RunOnceWithTheServerUpAsync();
        _server.SetProperty("orders", "db.url", "jdbc:new");

        var (values, etag) = await RunOnceWithTheServerUpAsync();

        Assert.Equal("jdbc:new", values["db.url"]);
        Assert.Equal(2, ConfigTestSupport.VersionOf(etag));
    }

    [Fact]
    public async Task Restart_WithoutAUsableCopy_AnEarlierRunsETagNeverMatchesOtherContent()
    {
        var earlier = (await RunOnceWithTheServerUpAsync()).ETag;
        File.Delete(_support.LastKnownGoodPath); // a new volume, a damaged copy, another data dir
        _server.SetProperty("orders", "db.url", "jdbc:moved");

        await using var agent = await _support.StartAgentAsync(_support.Environment(_server));

        var etag = (await ConfigTestSupport.GetConfigAsync(agent.Client)).ETag;
        Assert.Equal(1, ConfigTestSupport.VersionOf(earlier));
        Assert.Equal(1, ConfigTestSupport.VersionOf(etag)); // no copy to go on from: the version starts again
        Assert.NotEqual(earlier, etag);
        using var response = await LongPollAsync(agent.Client, earlier);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("jdbc:moved", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restart_WithAFileOnly_SameContentKeepsItsETag_OtherContentNeverMatches()
    {
        var file = _support.WriteFile("app.properties", "greeting=hello\n");
        string earlier;
        await using (var first = await _support.StartAgentAsync(_support.Environment(null, ("CONFIG_FILE", file))))
        {
            earlier = (await ConfigTestSupport.GetConfigAsync(first.Client)).ETag;
        }

        await using (var same = await _support.StartAgentAsync(_support.Environment(null, ("CONFIG_FILE", file))))
        {
            Assert.Equal(earlier, (await ConfigTestSupport.GetConfigAsync(same.Client)).ETag);
        }

        File.WriteAllText(file, "greeting=bonjour\n");
        await using var agent = await _support.StartAgentAsync(_support.Environment(null, ("CONFIG_FILE", file)));

        using var response = await LongPollAsync(agent.Client, earlier);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, ConfigTestSupport.VersionOf(response.Headers.ETag!.ToString()));
        Assert.Contains("bonjour", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEmptyAnswer_IsServed_ButNeverSavedOverACopyWithKeys_AndWarnsOnceNamingTheApp()
    {
        await RunOnceWithTheServerUpAsync(("CONFIG_POLL_INTERVAL", "0"));
        _server.Remove("orders");
        _server.Remove("application"); // what a misspelt APP_NAME gets: 200, no property sources

        // At start and on refresh alike: served, warned once, the copy untouched.
        await using (var agent = await _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_POLL_INTERVAL", "0"))))
        {
            Assert.Empty((await ConfigTestSupport.GetConfigAsync(agent.Client)).Values);
            await agent.Get<AppConfigRefresher>().RefreshOnceAsync(default);
            await agent.Get<AppConfigRefresher>().RefreshOnceAsync(default);
        }

        var warning = Assert.Single(_support.Logs.Entries, e => e.Contains("[418]", StringComparison.Ordinal));
        Assert.StartsWith("Warning", warning, StringComparison.Ordinal);
        Assert.Contains("has no keys for orders/default", warning, StringComparison.Ordinal);
        Assert.Contains("the last-known-good copy keeps its 3 keys", warning, StringComparison.Ordinal);
        var copy = new LastKnownGoodStore(_support.DataDir, NullLogger<LastKnownGoodStore>.Instance).TryRead("orders", ["default"], []);
        Assert.Equal("jdbc:orders", copy!.Values["db.url"]);

        // A start with the server down then still serves the real config.
        await _server.StopAsync();
        await using var restarted = await _support.StartAgentAsync(_support.Environment(_server));
        Assert.Equal("jdbc:orders", (await ConfigTestSupport.GetConfigAsync(restarted.Client)).Values["db.url"]);
    }

    [Fact]
    public async Task AnEmptyAnswer_WithoutACopy_IsSaved_AndAnAnswerWithKeysReplacesIt()
    {
        _server.Remove("orders");
        _server.Remove("application");
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_POLL_INTERVAL", "0")));
        Assert.Contains("there is no last-known-good copy with keys to keep", Assert.Single(_support.Logs.Entries, e => e.Contains("[418]", StringComparison.Ordinal)), StringComparison.Ordinal);
        var store = new LastKnownGoodStore(_support.DataDir, NullLogger<LastKnownGoodStore>.Instance);
        Assert.Empty(store.TryRead("orders", ["default"], [])!.Values);

        _server.SetProperty("orders", "db.url", "jdbc:found");
        Assert.NotNull(await agent.Get<AppConfigRefresher>().RefreshOnceAsync(default));

        Assert.Equal("jdbc:found", store.TryRead("orders", ["default"], [])!.Values["db.url"]);
    }

    // An app that kept its ETag across the agent's restart long-polls with it.
    private static async Task<HttpResponseMessage> LongPollAsync(HttpClient client, string etag)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/config?wait=5m");
        request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(etag));
        return await client.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("flipped-byte")]
    [InlineData("garbage")]
    [InlineData("empty")]
    [InlineData("header-only")]
    [InlineData("other-format")]
    public async Task Start_WithADamagedCopy_IgnoresIt_AndLogsWhy(string damage)
    {
        await RunOnceWithTheServerUpAsync();
        var bytes = File.ReadAllBytes(_support.LastKnownGoodPath);
        var newline = Array.IndexOf(bytes, (byte)'\n');
        byte[] damaged = damage switch
        {
            "truncated" => bytes[..(bytes.Length - 10)],
            "flipped-byte" => Flip(bytes, bytes.AsSpan().LastIndexOf("jdbc:orders"u8) + 5), // still valid JSON: only the checksum can tell
            "garbage" => "{\"db.url\":\"jdbc:evil\"}"u8.ToArray(),
            "empty" => [],
            "header-only" => bytes[..(newline + 1)],
            _ => [.. "sidecar-config-lkg 9"u8, .. bytes[(newline - 80)..]],
        };
        File.WriteAllBytes(_support.LastKnownGoodPath, damaged);
        await _server.StopAsync();

        await using var agent = await _support.StartAgentAsync(_support.Environment(_server));

        Assert.Empty((await ConfigTestSupport.GetConfigAsync(agent.Client)).Values);
        var health = await ConfigTestSupport.ConfigHealthAsync(agent.Client);
        Assert.False(health.GetProperty("ready").GetBoolean());
        Assert.StartsWith("unavailable:", health.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(_support.Logs.Contains("Ignoring the last-known-good config copy"), _support.Logs.Text);
    }

    [Fact]
    public async Task Start_WithACopyForOtherProfiles_IgnoresIt()
    {
        await RunOnceWithTheServerUpAsync(("CONFIG_PROFILE", "dev"));
        await _server.StopAsync();

        await using var agent = await _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_PROFILE", "prod")));

        Assert.Empty((await ConfigTestSupport.GetConfigAsync(agent.Client)).Values);
        Assert.True(_support.Logs.Contains("it is for orders/dev, not orders/prod"));
    }

    [Fact]
    public async Task Save_IsOwnerOnly_LeavesNoTempFile_AndRoundTrips()
    {
        await RunOnceWithTheServerUpAsync();

        Assert.Equal([LastKnownGoodStore.FileName], Directory.GetFiles(_support.DataDir).Select(Path.GetFileName));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_support.LastKnownGoodPath));
        }

        var store = new LastKnownGoodStore(_support.DataDir, NullLogger<LastKnownGoodStore>.Instance);
        var copy = store.TryRead("orders", ["default"], []);
        Assert.NotNull(copy);
        Assert.Equal("jdbc:orders", copy.Values["db.url"]);
        Assert.Equal("rev-1", copy.ServerVersion);
        Assert.Equal(1, copy.ConfigVersion);
    }

    [Fact]
    public void Save_ReplacesTheCopyWhole()
    {
        var store = new LastKnownGoodStore(_support.DataDir, NullLogger<LastKnownGoodStore>.Instance);
        LastKnownGoodCopy Copy(string value) => new()
        {
            Application = "orders",
            Profiles = ["default"],
            Labels = [],
            ConfigVersion = 3,
            Values = new Dictionary<string, string> { ["k"] = value },
        };

        Assert.True(store.TrySave(Copy(new string('a', 10_000))));
        Assert.True(store.TrySave(Copy("short")));

        Assert.Equal("short", store.TryRead("orders", ["default"], [])!.Values["k"]);
    }

    private static byte[] Flip(byte[] bytes, int index)
    {
        var copy = (byte[])bytes.Clone();
        copy[index] ^= 0x01;
        return copy;
    }
}

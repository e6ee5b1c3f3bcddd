using System.Net;
using System.Net.Http.Headers;
using Sidecar.AppConfig;
using Sidecar.Hosting;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.AppConfig;

/// <summary>The real agent in-process against the fake Config Server: sources, polling, change detection, failed refreshes.</summary>
public sealed class AppConfigRefreshTests : IAsyncLifetime
{
    private readonly ConfigTestSupport _support = new();
    private FakeConfigServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeConfigServer.StartAsync();
        _server.Set("orders", new Dictionary<string, object?> { ["db.url"] = "jdbc:orders", ["pool.size"] = 10 });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _support.Dispose();
    }

    [Fact]
    public async Task Start_FileBelowSeveralSourcesAndProfiles_ServerWinsAndTheFirstSourceWins()
    {
        var file = _support.WriteFile("app.yml", """
            db:
              url: jdbc:file
              user: file-user
            file.only: yes
            greeting: from-file
            """);
        _server.Set("orders-dev", new Dictionary<string, object?> { ["db.url"] = "jdbc:dev", ["feature.x"] = true });
        _server.Set("orders-eu", new Dictionary<string, object?> { ["db.url"] = "jdbc:eu", ["region"] = "eu" });
        _server.Set("application-dev", new Dictionary<string, object?> { ["greeting"] = "hello dev", ["region"] = "dev-region" });
        _server.Set("application", new Dictionary<string, object?> { ["greeting"] = "hello", ["list[0]"] = "a", ["timeout"] = null });
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server,
            ("CONFIG_FILE", file), ("CONFIG_PROFILE", "dev,eu"), ("CONFIG_POLL_INTERVAL", "0")));

        var (values, etag) = await ConfigTestSupport.GetConfigAsync(agent.Client);

        Assert.Equal(new Dictionary<string, string>
        {
            ["db.url"] = "jdbc:eu",          // orders-eu: the last profile comes first
            ["db.user"] = "file-user",       // only in the file
            ["feature.x"] = "true",          // orders-dev
            ["file.only"] = "yes",
            ["greeting"] = "hello dev",      // application-dev over application and over the file
            ["list[0]"] = "a",
            ["pool.size"] = "10",
            ["region"] = "eu",               // orders-eu over application-dev
            ["timeout"] = "",                // null is presented empty
        }, values);
        Assert.Equal(1, ConfigTestSupport.VersionOf(etag));
        Assert.Equal("/orders/dev,eu", Assert.Single(_server.Requests).Path);
    }

    [Fact]
    public async Task Poll_PicksUpAnEdit_AndWakesALongPoll()
    {
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server));
        var (_, etag) = await ConfigTestSupport.GetConfigAsync(agent.Client);

        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/config?wait=5m");
        request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(etag));
        var others = _support.Time.Armed(d => d == TimeSpan.FromMinutes(5));
        var longPoll = agent.Client.SendAsync(request);
        await _support.Time.WaitForArmedAsync(d => d == TimeSpan.FromMinutes(5), others + 1, "the long-poll waits (its 5-minute timer is armed)");
        Assert.False(longPoll.IsCompleted, "the long-poll answered before any change");

        _server.SetProperty("orders", "db.url", "jdbc:edited");
        _server.Version = "rev-2";
        _support.Time.Advance(TimeSpan.FromSeconds(30)); // CONFIG_POLL_INTERVAL's default

        using var response = await longPoll.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, ConfigTestSupport.VersionOf(response.Headers.ETag!.ToString()));
        Assert.Contains("\"db.url\":\"jdbc:edited\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // The change is logged right after waiters are woken: wait for the line rather than race it.
        await Eventually.TrueAsync(() => _support.Logs.Contains("Config changed, version 1 -> 2: added [], changed [db.url], removed []"), "the change is logged");
    }

    [Fact]
    public async Task Refresh_ANewVersionWithTheSameContent_DoesNotBumpTheConfigVersion()
    {
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_POLL_INTERVAL", "0")));
        var refresher = agent.Get<AppConfigRefresher>();

        var before = (await ConfigTestSupport.GetConfigAsync(agent.Client)).ETag;
        _server.Version = "rev-2";
        var change = await refresher.RefreshOnceAsync(default);

        Assert.Null(change);
        Assert.Equal(before, (await ConfigTestSupport.GetConfigAsync(agent.Client)).ETag);
        Assert.Equal(1, ConfigTestSupport.VersionOf(before));
        Assert.Contains("version rev-2", (await ConfigTestSupport.ConfigHealthAsync(agent.Client)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refresh_NewContentUnderTheSameOrNoVersion_BumpsTheConfigVersion()
    {
        _server.Version = null;
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_POLL_INTERVAL", "0")));
        var refresher = agent.Get<AppConfigRefresher>();

        _server.SetProperty("orders", "pool.size", 20);
        _server.SetProperty("orders", "added.key", "x");
        var change = await refresher.RefreshOnceAsync(default);

        Assert.NotNull(change);
        Assert.Equal(["added.key"], change.Added);
        Assert.Equal(["pool.size"], change.Changed);
        var (values, etag) = await ConfigTestSupport.GetConfigAsync(agent.Client);
        Assert.Equal(2, ConfigTestSupport.VersionOf(etag));
        Assert.Equal("20", values["pool.size"]);
    }

    [Theory]
    [InlineData("500")]
    [InlineData("html")]
    [InlineData("broken-json")]
    [InlineData("truncated")]
    [InlineData("down")]
    public async Task Refresh_AFailure_KeepsThePreviousConfig(string failure)
    {
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_POLL_INTERVAL", "0")));
        var refresher = agent.Get<AppConfigRefresher>();
        var before = await ConfigTestSupport.GetConfigAsync(agent.Client);

        _server.SetProperty("orders", "db.url", "jdbc:never-served");
        switch (failure)
        {
            case "500": _server.FailWithStatus = 500; break;
            case "html": _server.Body = FakeConfigBody.Html; break;
            case "broken-json": _server.Body = FakeConfigBody.BrokenJson; break;
            case "truncated": _server.Body = FakeConfigBody.Truncated; break;
            default: await _server.StopAsync(); break;
        }

        Assert.Null(await refresher.RefreshOnceAsync(default));

        var after = await ConfigTestSupport.GetConfigAsync(agent.Client);
        Assert.Equal(before.Values, after.Values);
        Assert.Equal(before.ETag, after.ETag);
        var health = await ConfigTestSupport.ConfigHealthAsync(agent.Client);
        Assert.True(health.GetProperty("ready").GetBoolean());
        Assert.Contains("last refresh failed", health.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(_support.Logs.Contains("Config refresh failed, still serving version 1"));

        // When the server is well again, the next refresh serves its config.
        _server.FailWithStatus = null;
        _server.Body = FakeConfigBody.Normal;
        await _server.RestartAsync();
        Assert.NotNull(await refresher.RefreshOnceAsync(default));
        Assert.Equal("jdbc:never-served", (await ConfigTestSupport.GetConfigAsync(agent.Client)).Values["db.url"]);
        Assert.DoesNotContain("last refresh failed", (await ConfigTestSupport.ConfigHealthAsync(agent.Client)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Poll_PicksUpAFileEdit_AndKeepsThePreviousValuesWhenTheFileBreaks()
    {
        var file = _support.WriteFile("app.properties", "greeting=hello\n");
        await using var agent = await _support.StartAgentAsync(_support.Environment(null, ("CONFIG_FILE", file)));

        File.WriteAllText(file, "greeting=bonjour\nnew.key=1\n");
        await AdvanceUntilAsync(async () => ConfigTestSupport.VersionOf((await ConfigTestSupport.GetConfigAsync(agent.Client)).ETag) == 2);
        Assert.Equal("bonjour", (await ConfigTestSupport.GetConfigAsync(agent.Client)).Values["greeting"]);

        File.WriteAllText(file, "greeting=\\u12\n");
        await AdvanceUntilAsync(() => Task.FromResult(_support.Logs.Contains("not re-read, keeping its previous values")));
        var (values, etag) = await ConfigTestSupport.GetConfigAsync(agent.Client);
        Assert.Equal(2, ConfigTestSupport.VersionOf(etag));
        Assert.Equal("bonjour", values["greeting"]);
    }

    [Fact]
    public async Task Refresh_ABrokenFile_WarnsOnceThenDebug_ShowsTheErrorInHealth_AndLogsTheRecovery()
    {
        var file = _support.WriteFile("app.yaml", "a: 1\n");
        await using var agent = await _support.StartAgentAsync(_support.Environment(null, ("CONFIG_FILE", file), ("CONFIG_POLL_INTERVAL", "0")));
        var refresher = agent.Get<AppConfigRefresher>();

        File.WriteAllText(file, "a: [\n");
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(await refresher.RefreshOnceAsync(default));
        }

        Assert.Single(FileLines("Warning"));
        Assert.Equal(2, FileLines("Debug").Count);
        Assert.Equal("1", (await ConfigTestSupport.GetConfigAsync(agent.Client)).Values["a"]);
        var detail = (await ConfigTestSupport.ConfigHealthAsync(agent.Client)).GetProperty("detail").GetString();
        Assert.StartsWith("file: ", detail, StringComparison.Ordinal);
        Assert.Contains($"last refresh failed: '{file}': ", detail, StringComparison.Ordinal);

        File.WriteAllText(file, "a: 2\n");
        Assert.NotNull(await refresher.RefreshOnceAsync(default));
        Assert.True(_support.Logs.Contains($"Information Sidecar.AppConfig.AppConfigRefresher [417] Config file {file} read again: 1 keys"), _support.Logs.Text);
        Assert.DoesNotContain("last refresh failed", (await ConfigTestSupport.ConfigHealthAsync(agent.Client)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        // A new failure after the recovery is a first failure again.
        File.WriteAllText(file, "a: [\n");
        await refresher.RefreshOnceAsync(default);
        Assert.Equal(2, FileLines("Warning").Count);

        List<string> FileLines(string level) => _support.Logs.Entries
            .Where(e => e.StartsWith(level + " ", StringComparison.Ordinal) && e.Contains($"Config file {file}", StringComparison.Ordinal) && e.Contains("not re-read", StringComparison.Ordinal))
            .ToList();
    }

    [Fact]
    public async Task Refresh_AServerFailingSeveralTimes_WarnsOnceThenDebug_AndLogsTheRecovery()
    {
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_POLL_INTERVAL", "0")));
        var refresher = agent.Get<AppConfigRefresher>();

        _server.FailWithStatus = 500;
        for (var i = 0; i < 3; i++)
        {
            await refresher.RefreshOnceAsync(default);
        }

        Assert.Single(_support.Logs.Entries, e => e.StartsWith("Warning Sidecar.AppConfig.AppConfigRefresher [407]", StringComparison.Ordinal));
        Assert.Equal(2, _support.Logs.Entries.Count(e => e.StartsWith("Debug Sidecar.AppConfig.AppConfigRefresher [408]", StringComparison.Ordinal)));
        Assert.Contains("last refresh failed", (await ConfigTestSupport.ConfigHealthAsync(agent.Client)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        _server.FailWithStatus = null;
        await refresher.RefreshOnceAsync(default);
        Assert.Single(_support.Logs.Entries, e => e.StartsWith("Information Sidecar.AppConfig.AppConfigRefresher [409]", StringComparison.Ordinal));
        Assert.DoesNotContain("last refresh failed", (await ConfigTestSupport.ConfigHealthAsync(agent.Client)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithoutFailFast_AsksOnceAndStartsOnTheFileAlone_ThenPollingRecovers()
    {
        var file = _support.WriteFile("app.json", """{"greeting":"from-file"}""");
        _server.FailWithStatus = 500;
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_FILE", file)));

        Assert.Single(_server.Requests);
        Assert.Equal(new Dictionary<string, string> { ["greeting"] = "from-file" }, (await ConfigTestSupport.GetConfigAsync(agent.Client)).Values);
        var health = await ConfigTestSupport.ConfigHealthAsync(agent.Client);
        Assert.False(health.GetProperty("ready").GetBoolean());
        Assert.StartsWith("unavailable:", health.GetProperty("detail").GetString(), StringComparison.Ordinal);

        _server.FailWithStatus = null;
        await AdvanceUntilAsync(async () => (await ConfigTestSupport.GetConfigAsync(agent.Client)).Values.ContainsKey("db.url"));
        Assert.True((await ConfigTestSupport.ConfigHealthAsync(agent.Client)).GetProperty("ready").GetBoolean());
    }

    [Fact]
    public async Task Start_WithFailFast_RetriesWithSteeltoesDefaults_ThenFails()
    {
        _server.FailWithStatus = 500;
        var starting = _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_FAIL_FAST", "true")));

        // Steeltoe: 6 attempts; waits of 1000 ms, then x1.1 each time (1100, 1210, 1331, 1464), at most 2000 ms.
        int[] waits = [1000, 1100, 1210, 1331, 1464];
        for (var attempt = 1; attempt <= waits.Length; attempt++)
        {
            // The server sees the attempt before the agent has read the 500 and armed its wait: wait for its log line.
            await Eventually.TrueAsync(() => _server.Requests.Count == attempt && _support.Logs.Contains($"Config load attempt {attempt}/6 failed"),
                $"attempt {attempt} was made and its failure handled");
            await Task.Delay(20);
            _support.Time.Advance(TimeSpan.FromMilliseconds(waits[attempt - 1] - 1));
            await Task.Delay(50);
            Assert.Equal(attempt, _server.Requests.Count);
            _support.Time.Advance(TimeSpan.FromMilliseconds(1));
        }

        var error = await Assert.ThrowsAsync<AgentStartException>(() => starting);
        Assert.Equal(6, _server.Requests.Count);
        Assert.StartsWith("CONFIG_FAIL_FAST: no config from the Config Server after 6 attempts", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RetryDelays_FollowSteeltoesDefaults()
    {
        var retry = new ConfigRetryOptions();

        Assert.Equal([1000, 1100, 1210, 1331, 1464, 1610, 1771, 1948, 2000, 2000], Enumerable.Range(1, 10).Select(a => retry.DelayAfter(a).TotalMilliseconds));
        Assert.Equal(6, retry.MaxAttempts);
    }

    // Advances the fake clock one poll at a time until the condition holds (the poll loop re-arms its timer after each refresh).
    private async Task AdvanceUntilAsync(Func<Task<bool>> condition) =>
        await Eventually.TrueAsync(async () =>
        {
            if (await condition())
            {
                return true;
            }

            _support.Time.Advance(TimeSpan.FromSeconds(30));
            await Task.Delay(50);
            return await condition();
        }, "the poll saw the change");
}

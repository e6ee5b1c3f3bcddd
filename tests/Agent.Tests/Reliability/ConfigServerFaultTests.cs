using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Sidecar.Tests.AppConfig;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;
using Xunit.Abstractions;

namespace Sidecar.Tests.Reliability;

/// <summary>
/// Issue 9, scenario 2: the Config Server down at start, down in the middle of a run, or answering
/// something that is not an environment. The app keeps reading the same config (nothing lost, no
/// version bump), long-polls wake only for a real change, and the failure is logged.
/// </summary>
public sealed class ConfigServerFaultTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(30);
    private readonly ConfigTestSupport _support = new();
    private FakeConfigServer _server = null!;

    private static readonly Dictionary<string, object?> V1 = new()
    {
        ["db.url"] = "jdbc:postgresql://db/orders",
        ["feature.checkout"] = true,
        ["limits.max"] = 40,
        ["message"] = "v1",
    };

    public async Task InitializeAsync()
    {
        _server = await FakeConfigServer.StartAsync();
        _server.Set("orders", V1);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _support.Dispose();
    }

    [Fact]
    public async Task DownAtStart_TheLastKnownGoodCopyIsServed_ThenTheServersChangeIsPickedUpWhenItReturns()
    {
        Dictionary<string, string> served;
        await using (var first = await _support.StartAgentAsync(_support.Environment(_server)))
        {
            served = (await ConfigTestSupport.GetConfigAsync(first.Client)).Values;
        }

        await _server.StopAsync();
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server));
        var (reads, same) = await ReadManyAsync(agent.Client, served, 200);
        var health = await ConfigTestSupport.ConfigHealthAsync(agent.Client);
        Assert.StartsWith("last-known-good", health.GetProperty("detail").GetString(), StringComparison.Ordinal);

        _server.SetProperty("orders", "message", "v2");
        await _server.RestartAsync();
        var back = await AdvanceUntilAsync(agent.Client, values => values["message"] == "v2");

        new Figures("config: server down at start")
        {
            Sent = reads,
            Succeeded = same,
            Failed = reads - same,
            Lost = reads == same ? "0 keys" : $"{reads - same} reads differed from the saved config",
        }.Note($"{served.Count} keys served from the last-known-good copy, byte for byte; the server's change seen {back.TotalSeconds:0} s after its return (poll 30 s)")
         .Report(output);
        Assert.Equal(reads, same);
    }

    [Fact]
    public async Task DownMidRun_NothingIsLost_NoVersionBumps_LongPollsWaitForTheRealChange()
    {
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server));
        var (before, etag) = await ConfigTestSupport.GetConfigAsync(agent.Client);

        // Four app workers long-polling for a change.
        var polls = Enumerable.Range(0, 4).Select(_ => LongPollAsync(agent.Client, etag)).ToArray();
        await _server.StopAsync();
        for (var i = 0; i < 4; i++)
        {
            _support.Time.Advance(Poll);
            await Eventually.TrueAsync(() => _support.Logs.Entries.Count(e => e.Contains("[407]", StringComparison.Ordinal) || e.Contains("[408]", StringComparison.Ordinal)) > i,
                "the refresh failed");
        }

        var (reads, same) = await ReadManyAsync(agent.Client, before, 200);
        Assert.All(polls, p => Assert.False(p.IsCompleted, "a long-poll woke up without a change"));
        Assert.Equal(etag, (await ConfigTestSupport.GetConfigAsync(agent.Client)).ETag);

        _server.SetProperty("orders", "message", "v2");
        await _server.RestartAsync();
        _support.Time.Advance(Poll);
        var woken = await Task.WhenAll(polls).WaitAsync(TimeSpan.FromSeconds(10));

        new Figures("config: server down mid-run (2 min, fake clock)")
        {
            Sent = reads + polls.Length,
            Succeeded = same + woken.Count(w => w == "v2"),
            Failed = reads - same + woken.Count(w => w != "v2"),
        }.Note($"{reads} reads during the outage all gave version {etag} with {before.Count} keys; {polls.Length} long-polls stayed asleep and woke with v2 once the server was back")
         .Report(output);
        Assert.Equal(reads, same);
        Assert.All(woken, w => Assert.Equal("v2", w));
        Assert.True(_support.Logs.Contains("answers again"));
    }

    public static TheoryData<FakeConfigBody> BadBodies => [FakeConfigBody.BrokenJson, FakeConfigBody.Truncated, FakeConfigBody.Html, FakeConfigBody.NotAnEnvironment, FakeConfigBody.Binary];

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task ABadAnswer_KeepsThePreviousConfig_AndIsLogged(FakeConfigBody body)
    {
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server));
        var (before, etag) = await ConfigTestSupport.GetConfigAsync(agent.Client);

        _server.SetProperty("orders", "message", "v2");
        _server.Body = body;
        _support.Time.Advance(Poll);
        await Eventually.TrueAsync(() => _support.Logs.Contains("Config refresh failed"), "the failed refresh was logged");
        var (reads, same) = await ReadManyAsync(agent.Client, before, 50);
        Assert.Equal(etag, (await ConfigTestSupport.GetConfigAsync(agent.Client)).ETag);
        var logged = _support.Logs.Entries.First(e => e.Contains("Config refresh failed", StringComparison.Ordinal));
        var health = await ConfigTestSupport.ConfigHealthAsync(agent.Client);

        _server.Body = FakeConfigBody.Normal;
        var back = await AdvanceUntilAsync(agent.Client, values => values["message"] == "v2");

        new Figures($"config: server answers {body}")
        {
            Sent = reads,
            Succeeded = same,
            Failed = reads - same,
        }.Note($"previous config kept ({before.Count} keys, version {etag}); logged: \"{Shorten(logged)}\"; fixed answer seen {back.TotalSeconds:0} s later")
         .Report(output);
        Assert.Equal(reads, same);
        Assert.Contains("Warning", logged, StringComparison.Ordinal);
        Assert.True(health.GetProperty("ready").GetBoolean(), "a bad answer does not make the app unready: the previous config is served");
    }

    private static string Shorten(string logEntry)
    {
        var start = logEntry.IndexOf("Config refresh failed", StringComparison.Ordinal);
        var text = logEntry[start..];
        var end = text.IndexOf(" {", StringComparison.Ordinal);
        return end > 0 ? text[..end] : text;
    }

    private static async Task<(int Reads, int Same)> ReadManyAsync(HttpClient client, Dictionary<string, string> expected, int count)
    {
        var same = 0;
        for (var i = 0; i < count; i++)
        {
            var path = (i % 3) switch
            {
                0 => "v1/config",
                1 => "v1/config/message",
                _ => "dynamicproperties?id=message&id=db.url",
            };
            using var response = await client.GetAsync(path);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                continue;
            }

            var ok = (i % 3) switch
            {
                0 => Same(expected, (await response.Content.ReadFromJsonAsync<Dictionary<string, string>>())!),
                1 => await response.Content.ReadAsStringAsync() == expected["message"],
                _ => (await response.Content.ReadFromJsonAsync<Dictionary<string, string>>())!["db.url"] == expected["db.url"],
            };
            same += ok ? 1 : 0;
        }

        return (count, same);
    }

    private static bool Same(Dictionary<string, string> a, Dictionary<string, string> b) =>
        a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var v) && v == p.Value);

    private async Task<TimeSpan> AdvanceUntilAsync(HttpClient client, Func<Dictionary<string, string>, bool> condition)
    {
        var advanced = TimeSpan.Zero;
        while (!condition((await ConfigTestSupport.GetConfigAsync(client)).Values))
        {
            Assert.True(advanced < TimeSpan.FromMinutes(2), "the config did not change within 2 minutes of fake time");
            _support.Time.Advance(TimeSpan.FromSeconds(5));
            advanced += TimeSpan.FromSeconds(5);
            await Task.Delay(20);
        }

        return advanced;
    }

    private static async Task<string> LongPollAsync(HttpClient client, string etag)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/config?wait=5m");
        request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(etag));
        using var response = await client.SendAsync(request);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return (await response.Content.ReadFromJsonAsync<Dictionary<string, string>>())!["message"];
    }
}

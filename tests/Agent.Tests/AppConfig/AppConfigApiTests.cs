using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.AppConfig;

/// <summary><c>/dynamicproperties</c>, <c>/v1/config</c> and <c>/v1/config/{key}</c> on the real agent, config from a local file.</summary>
public sealed class AppConfigApiTests : IAsyncLifetime
{
    private readonly ConfigTestSupport _support = new();
    private AgentHarness _agent = null!;
    private string _etag = null!;

    private HttpClient Client => _agent.Client;

    public async Task InitializeAsync()
    {
        var file = _support.WriteFile("app.json", """
            {"db": {"url": "jdbc:x", "pool": 10}, "dbx": "other", "feature": {"on": true}, "empty": null, "list": ["a"]}
            """);
        _agent = await _support.StartAgentAsync(_support.Environment(null, ("CONFIG_FILE", file)));
        _etag = (await ConfigTestSupport.GetConfigAsync(Client)).ETag;
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        _support.Dispose();
    }

    [Fact]
    public async Task DynamicProperties_AnswersEachIdAsAString_AndNullWhenAbsent()
    {
        var body = await Client.GetStringAsync("dynamicproperties?id=db.pool&id=feature.on&id=missing&id=empty&id=db.pool");

        Assert.Equal("""{"db.pool":"10","feature.on":"true","missing":null,"empty":""}""", body);
        Assert.Equal("{}", await Client.GetStringAsync("dynamicproperties"));
    }

    [Fact]
    public async Task Config_AnswersEveryKeySorted_WithTheVersionAsETag()
    {
        using var response = await Client.GetAsync("v1/config");

        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Equal(1, ConfigTestSupport.VersionOf(response.Headers.ETag!.ToString()));
        Assert.Equal("""{"db.pool":"10","db.url":"jdbc:x","dbx":"other","empty":"","feature.on":"true","list[0]":"a"}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Config_WithAPrefix_AnswersOnlyThoseKeys()
    {
        Assert.Equal("""{"db.pool":"10","db.url":"jdbc:x"}""", await Client.GetStringAsync("v1/config?prefix=db."));
        Assert.Equal("{}", await Client.GetStringAsync("v1/config?prefix=zzz"));
    }

    [Theory]
    [InlineData("{etag}")]
    [InlineData("W/{etag}")]
    [InlineData("\"7-0000000000000000\", {etag}")]
    [InlineData("*")]
    public async Task Config_IfNoneMatchTheCurrentVersion_Answers304AtOnce(string ifNoneMatch)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/config");
        request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch.Replace("{etag}", _etag, StringComparison.Ordinal));

        using var response = await Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(_etag, response.Headers.ETag!.ToString());
    }

    [Theory]
    [InlineData("\"1\"")]                   // the version alone, as agents before the content hash sent it
    [InlineData("\"1-0000000000000000\"")]  // the same version with other content (an earlier run's)
    public async Task Config_IfNoneMatchTheSameVersionOfOtherContent_AnswersTheConfig(string ifNoneMatch)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/config?wait=5m");
        request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);

        using var response = await Client.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(_etag, response.Headers.ETag!.ToString());
    }

    [Fact]
    public async Task Config_IfNoneMatchAnOlderVersion_AnswersAtOnceEvenWithAWait()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/config?wait=5m");
        request.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"0\""));

        using var response = await Client.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("1h", 300)] // capped at 5 minutes
    public async Task Config_LongPollWithoutAChange_Answers304WhenTheWaitEnds(string wait, int seconds)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v1/config?wait={wait}");
        request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(_etag));
        bool ItsWait(TimeSpan due) => due == TimeSpan.FromSeconds(seconds);
        var others = _support.Time.Armed(ItsWait);
        var longPoll = Client.SendAsync(request);
        await _support.Time.WaitForArmedAsync(ItsWait, others + 1, "the long-poll waits (its timer is armed)");

        // Timers due by then fire inside Advance, and the long-poll's is disposed once it has: still armed, it still waits.
        _support.Time.Advance(TimeSpan.FromSeconds(seconds - 1));
        Assert.Equal(others + 1, _support.Time.Armed(ItsWait));
        Assert.False(longPoll.IsCompleted, "the long-poll ended before its wait");
        _support.Time.Advance(TimeSpan.FromSeconds(1));

        using var response = await longPoll.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(_etag, response.Headers.ETag!.ToString());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0s")]
    [InlineData("0ms")]
    public async Task Config_LongPollWithAZeroWait_AnswersAtOnce(string wait)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v1/config?wait={wait}");
        request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(_etag));

        // No fake time passes: an answer means the agent did not wait.
        using var response = await Client.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-5s")]
    [InlineData("10")]
    public async Task Config_ABadWait_Answers400Problem(string wait)
    {
        using var response = await Client.GetAsync($"v1/config?wait={wait}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("invalid-wait", response.Headers.GetValues("X-Sidecar-Error").Single());
    }

    [Fact]
    public async Task ConfigKey_AnswersTheValueAsText()
    {
        using var response = await Client.GetAsync("v1/config/db.url");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Equal("jdbc:x", await response.Content.ReadAsStringAsync());
        Assert.Equal("a", await Client.GetStringAsync("v1/config/list[0]"));
        Assert.Equal("", await Client.GetStringAsync("v1/config/empty"));
    }

    [Theory]
    [InlineData("a%2Fb", 200, "slash")]       // encodeURIComponent("a/b")
    [InlineData("a%2fb", 200, "slash")]
    [InlineData("a/b", 200, "slash")]
    [InlineData("x%252Fy", 200, "literal")]   // encodeURIComponent("x%2Fy"): decoded once, not twice
    [InlineData("x%2Fy", 404, null)]          // that is the key "x/y"
    [InlineData("c%20d", 200, "space")]
    [InlineData("%C3%BC", 200, "umlaut")]
    [InlineData("x/../a/b", 200, "slash")]    // Kestrel removes dot segments: the route's key stands
    public async Task ConfigKey_EscapedInThePath_IsDecodedExactlyOnce(string target, int status, string? value)
    {
        using var support = new ConfigTestSupport();
        var file = support.WriteFile("keys.json", """{"a/b": "slash", "x%2Fy": "literal", "c d": "space", "ü": "umlaut"}""");
        await using var agent = await support.StartAgentAsync(support.Environment(null, ("CONFIG_FILE", file)));

        // Raw bytes: HttpClient would normalise some escapes before sending.
        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, $"GET /v1/config/{target} HTTP/1.1\r\nHost: 127.0.0.1");

        Assert.Equal(status, answer.Status);
        if (value is not null)
        {
            Assert.Equal(value, System.Text.Encoding.UTF8.GetString(System.Text.Encoding.Latin1.GetBytes(answer.Body)));
        }
    }

    [Fact]
    public async Task ConfigKey_Absent_Answers404Problem()
    {
        using var response = await Client.GetAsync("v1/config/no.such.key");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("config-key-not-found", response.Headers.GetValues("X-Sidecar-Error").Single());
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("no.such.key", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_ShowsWhereTheConfigComesFrom()
    {
        var check = await ConfigTestSupport.ConfigHealthAsync(Client);

        Assert.True(check.GetProperty("ready").GetBoolean());
        Assert.StartsWith("file: ", check.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}

using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.AppConfig;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.AppConfig;

/// <summary>The client against the fake Config Server on real sockets (docs/config-server.md#protocol-notes).</summary>
public sealed class ConfigServerClientTests : IAsyncLifetime
{
    private FakeConfigServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeConfigServer.StartAsync();
        _server.Set("orders", new Dictionary<string, object?> { ["db.url"] = "jdbc:orders", ["pool.size"] = 10, ["list[0]"] = "a" });
        _server.Set("application", new Dictionary<string, object?> { ["greeting"] = "hello", ["db.url"] = "jdbc:shared" });
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static ConfigServerClient Client(params Uri[] urls) => Client(o => o, urls);

    private static ConfigServerClient Client(Func<AppConfigOptions, AppConfigOptions> adjust, params Uri[] urls) =>
        new(adjust(new AppConfigOptions { ServerUrls = urls, AppName = "orders" }), TimeProvider.System, NullLogger<ConfigServerClient>.Instance);

    private static Uri Refused() => new($"http://127.0.0.1:{LoopbackServer.RefusingPort()}/");

    [Fact]
    public async Task Fetch_MergesPropertySources_FirstSourceWinning_AndPresentsValuesAsStrings()
    {
        _server.Set("orders", new Dictionary<string, object?> { ["db.url"] = "jdbc:orders", ["pool.size"] = 10, ["flag"] = true, ["nothing"] = null });

        using var client = Client(_server.BaseUri);
        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(["git:main:orders.yml", "git:main:application.yml"], result.Environment!.Sources.Select(s => s.Name));
        Assert.Equal(new Dictionary<string, string>
        {
            ["db.url"] = "jdbc:orders",
            ["pool.size"] = "10",
            ["flag"] = "true",
            ["nothing"] = "",
            ["greeting"] = "hello",
        }, result.Environment.Merge());
        Assert.Equal("rev-1", result.Environment.Version);
        Assert.Equal("main", result.Environment.Label);
    }

    [Fact]
    public async Task Fetch_AListInAProfileSource_ReplacesTheWholeListOfTheSourcesBelow()
    {
        // orders-dev.yml lists one server, orders.yml three: Spring Boot binds the dev list alone.
        _server.Set("orders-dev", new Dictionary<string, object?> { ["servers[0].host"] = "dev-1" });
        _server.Set("orders", new Dictionary<string, object?>
        {
            ["servers[0].host"] = "a", ["servers[0].port"] = 1, ["servers[1].host"] = "b", ["servers[2].host"] = "c", ["db.url"] = "jdbc:orders",
        });

        using var client = Client(o => o with { Profiles = ["dev"] }, _server.BaseUri);
        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        var values = result.Environment!.Merge();
        Assert.Equal("dev-1", values["servers[0].host"]);
        Assert.DoesNotContain(values.Keys, k => k.StartsWith("servers[1]", StringComparison.Ordinal) || k == "servers[0].port");
        Assert.Equal("jdbc:orders", values["db.url"]);
    }

    [Fact]
    public async Task Fetch_SeveralProfiles_TheLastProfileWinsThenTheAppThenApplication()
    {
        _server.Set("orders-dev", new Dictionary<string, object?> { ["db.url"] = "jdbc:dev", ["dev.only"] = "d" });
        _server.Set("orders-mysql", new Dictionary<string, object?> { ["db.url"] = "jdbc:mysql" });
        _server.Set("application-dev", new Dictionary<string, object?> { ["greeting"] = "hello dev", ["db.url"] = "jdbc:app-dev" });

        using var client = Client(o => o with { Profiles = ["dev", "mysql"] }, _server.BaseUri);
        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        var request = Assert.Single(_server.Requests);
        Assert.Equal("/orders/dev,mysql", request.Path);
        Assert.Equal("application/json", request.Headers["Accept"]);
        var values = result.Environment!.Merge();
        Assert.Equal("jdbc:mysql", values["db.url"]);
        Assert.Equal("d", values["dev.only"]);
        Assert.Equal("hello dev", values["greeting"]);
        Assert.Equal("10", values["pool.size"]);
    }

    [Fact]
    public async Task Fetch_ALabelWithASlash_IsSentAsParenthesisUnderscore()
    {
        _server.Set("orders", new Dictionary<string, object?> { ["branch"] = "feature" }, label: "feature/x");

        using var client = Client(o => o with { Labels = ["feature/x"] }, _server.BaseUri);
        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("/orders/default/feature(_)x", Assert.Single(_server.Requests).Path);
        Assert.Equal("feature", result.Environment!.Merge()["branch"]);
        Assert.Equal("feature/x", result.Environment.Label);
    }

    [Fact]
    public async Task Fetch_AnUnknownLabel_FallsBackToTheNextLabel()
    {
        using var client = Client(o => o with { Labels = ["release/9", "main"] }, _server.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(["/orders/default/release(_)9", "/orders/default/main"], _server.Requests.Select(r => r.Path));
        Assert.Equal("main", result.Label);
        Assert.Equal("jdbc:orders", result.Environment!.Merge()["db.url"]);
    }

    [Fact]
    public async Task Fetch_EveryLabelUnknown_TriesEachLabelOnEveryServer_ThenFails()
    {
        await using var second = await FakeConfigServer.StartAsync();
        using var client = Client(o => o with { Labels = ["a", "b"] }, _server.BaseUri, second.BaseUri);

        var result = await client.FetchAsync(default);

        // Spring 4 (ALWAYS): per label, every server in order; a 404 on the last one moves on to the next label.
        Assert.False(result.Succeeded);
        Assert.Equal(404, result.StatusCode);
        Assert.Contains("label 'b' not found", result.Error, StringComparison.Ordinal);
        Assert.Equal(["/orders/default/a", "/orders/default/b"], _server.Requests.Select(r => r.Path));
        Assert.Equal(["/orders/default/a", "/orders/default/b"], second.Requests.Select(r => r.Path));
    }

    [Fact]
    public async Task Fetch_ALabelOnlyTheSecondServerHas_IsFoundThere_BeforeTheNextLabelIsTried()
    {
        await using var second = await FakeConfigServer.StartAsync();
        second.Set("orders", new Dictionary<string, object?> { ["from"] = "second" }, label: "release");
        using var client = Client(o => o with { Labels = ["release", "main"] }, _server.BaseUri, second.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(second.BaseUri.ToString(), result.Server);
        Assert.Equal("second", result.Environment!.Merge()["from"]);
        Assert.Equal(["/orders/default/release"], _server.Requests.Select(r => r.Path));
    }

    [Fact]
    public async Task Fetch_ConnectionTimeoutOnly_AnUnknownLabelMovesOnToTheNextLabel_OnTheSameServer()
    {
        await using var second = await FakeConfigServer.StartAsync();
        using var client = Client(o => o with { Labels = ["a", "b"], MultipleUriStrategy = MultipleUriStrategy.ConnectionTimeoutOnly }, _server.BaseUri, second.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.False(result.Succeeded);
        Assert.False(result.Unreachable);
        Assert.Equal(404, result.StatusCode);
        Assert.Contains("label 'b' not found", result.Error, StringComparison.Ordinal);
        Assert.Equal(2, _server.Requests.Count);
        Assert.Empty(second.Requests);
    }

    [Fact]
    public async Task Fetch_ConnectionRefused_MovesOnToTheNextUrl()
    {
        using var client = Client(Refused(), Refused(), _server.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(_server.BaseUri.ToString(), result.Server);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(404)]
    public async Task Fetch_AnErrorStatusFromALiveServer_MovesOnToTheNextUrl_ByDefault(int status)
    {
        await using var second = await FakeConfigServer.StartAsync();
        second.Set("orders", new Dictionary<string, object?> { ["x"] = "y" });
        _server.FailWithStatus = status;
        using var client = Client(_server.BaseUri, second.BaseUri);

        var result = await client.FetchAsync(default);

        // Spring Cloud Config 4: multiple-uri-strategy ALWAYS is the default.
        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(second.BaseUri.ToString(), result.Server);
        Assert.Equal("y", result.Environment!.Merge()["x"]);
    }

    [Fact]
    public async Task Fetch_EveryServerAnsweringAnError_FailsNamingEachOne()
    {
        await using var second = await FakeConfigServer.StartAsync();
        _server.FailWithStatus = 500;
        second.FailWithStatus = 503;
        using var client = Client(_server.BaseUri, second.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.False(result.Succeeded);
        Assert.False(result.Unreachable);
        Assert.Equal(503, result.StatusCode);
        Assert.Contains("HTTP 500", result.Error, StringComparison.Ordinal);
        Assert.Contains("HTTP 503", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    [InlineData(400)]
    public async Task Fetch_ConnectionTimeoutOnly_AnErrorStatusFromALiveServer_DoesNotMoveOn(int status)
    {
        await using var second = await FakeConfigServer.StartAsync();
        second.Set("orders", new Dictionary<string, object?> { ["x"] = "y" });
        _server.FailWithStatus = status;
        using var client = Client(o => o with { MultipleUriStrategy = MultipleUriStrategy.ConnectionTimeoutOnly }, _server.BaseUri, second.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.False(result.Succeeded);
        Assert.False(result.Unreachable);
        Assert.Equal(status, result.StatusCode);
        Assert.Contains($"HTTP {status}", result.Error, StringComparison.Ordinal);
        Assert.Empty(second.Requests);
    }

    [Fact]
    public async Task Fetch_EveryServerRefusing_IsUnreachable()
    {
        using var client = Client(Refused(), Refused());

        var result = await client.FetchAsync(default);

        Assert.False(result.Succeeded);
        Assert.True(result.Unreachable);
        Assert.StartsWith("every config server is unreachable: ", result.Error, StringComparison.Ordinal);
        Assert.Contains("connection refused", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fetch_AServerThatDoesNotAnswerInTime_IsSkippedLikeAnUnreachableOne()
    {
        await using var slow = await FakeConfigServer.StartAsync();
        slow.Delay = TimeSpan.FromSeconds(10);
        using var client = Client(o => o with { Timeout = TimeSpan.FromMilliseconds(300) }, slow.BaseUri, _server.BaseUri);

        var started = DateTime.UtcNow;
        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(_server.BaseUri.ToString(), result.Server);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData(FakeConfigBody.Html)]
    [InlineData(FakeConfigBody.BrokenJson)]
    [InlineData(FakeConfigBody.Truncated)]
    public async Task Fetch_ASpoiledBody_MovesOnToTheNextUrl_ByDefault(FakeConfigBody body)
    {
        await using var second = await FakeConfigServer.StartAsync();
        second.Set("orders", new Dictionary<string, object?> { ["x"] = "y" });
        _server.Body = body;
        using var client = Client(_server.BaseUri, second.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(second.BaseUri.ToString(), result.Server);
    }

    [Theory]
    [InlineData(FakeConfigBody.Html, "invalid answer", false)]
    [InlineData(FakeConfigBody.BrokenJson, "invalid answer", false)]
    [InlineData(FakeConfigBody.Truncated, "cut short", true)] // an I/O failure: Spring's ResourceAccessException moves on
    public async Task Fetch_ConnectionTimeoutOnly_ASpoiledBody_MovesOnOnlyWhenTheAnswerBrokeOff(FakeConfigBody body, string expected, bool movesOn)
    {
        await using var second = await FakeConfigServer.StartAsync();
        _server.Body = body;
        using var client = Client(o => o with { MultipleUriStrategy = MultipleUriStrategy.ConnectionTimeoutOnly }, _server.BaseUri, second.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.Equal(movesOn, result.Succeeded);
        Assert.Equal(movesOn ? 1 : 0, second.Requests.Count);
        if (!movesOn)
        {
            Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Fetch_BasicAuthFromTheUrlUserInfo_IsSentAndNeverPartOfTheServerName()
    {
        _server.BasicAuth = ("config", "p@ss:w0rd");
        var url = new Uri($"http://config:p%40ss%3Aw0rd@127.0.0.1:{_server.Port}/");
        using var client = Client(url);

        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        Assert.DoesNotContain("w0rd", result.Server, StringComparison.Ordinal);
    }

    // Spring's ConfigClientProperties.getCredentials, case by case (username defaults to "user").
    [Theory]
    [InlineData("http://cfg:8888/", null, null, null)] // nothing set: no header at all
    [InlineData("http://cfg:8888/", "config", null, null)] // a username alone: no header
    [InlineData("http://cfg:8888/", null, "secret", "user:secret")] // a password alone: the default user
    [InlineData("http://cfg:8888/", "config", "secret", "config:secret")]
    [InlineData("http://u:p@cfg:8888/", null, null, "u:p")]
    [InlineData("http://u:p@cfg:8888/", null, "secret", "u:secret")] // the explicit password wins
    [InlineData("http://u:p@cfg:8888/", "config", null, "config:p")] // an explicit username wins
    [InlineData("http://u:p@cfg:8888/", "user", "secret", "u:secret")] // ... unless it is "user"
    [InlineData("http://u@cfg:8888/", null, null, "u:")] // userinfo without a colon: an empty password
    [InlineData("http://:@cfg:8888/", "config", "secret", "config:secret")] // ":" is no userinfo
    [InlineData("http://cfg:8888/", " config ", " secret ", "config:secret")] // both trimmed
    public void Credentials_FollowSpringsConfigClient(string url, string? username, string? password, string? expected)
    {
        var endpoint = ConfigServerEndpoint.Create(new Uri(url), new AppConfigOptions { Username = username, Password = password });

        var sent = endpoint.Authorization is { } header
            ? Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter!))
            : null;
        Assert.Equal(expected, sent);
        Assert.Equal("Basic", endpoint.Authorization?.Scheme ?? "Basic");
        Assert.Equal("http://cfg:8888/", endpoint.Display);
    }

    [Fact]
    public async Task Fetch_APasswordAlone_SendsTheDefaultUser_AsSpringDoes()
    {
        // Before: AppConfig:Password alone sent ":secret" and a Spring-secured server answered 401.
        _server.BasicAuth = ("user", "secret");
        using var client = Client(o => o with { Password = "secret" }, _server.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
    }

    [Fact]
    public async Task Fetch_AUsernameAlone_SendsNoAuthorizationHeader()
    {
        using var client = Client(o => o with { Username = "config" }, _server.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        Assert.False(_server.Requests[0].Headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task Fetch_BasicAuthFromSettings_IsSent_AndWithoutIt_TheServerAnswers401()
    {
        _server.BasicAuth = ("config", "secret");
        using var withAuth = Client(o => o with { Username = "config", Password = "secret" }, _server.BaseUri);
        using var without = Client(_server.BaseUri);

        var ok = await withAuth.FetchAsync(default);
        var refused = await without.FetchAsync(default);

        Assert.True(ok.Succeeded, ok.Error);
        Assert.Equal(401, refused.StatusCode);
        Assert.Contains("credentials", refused.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fetch_SendsTheConfigTokenAndTheConfiguredHeaders()
    {
        _server.RequiredToken = "vault-token";
        var headers = new Dictionary<string, string> { ["X-Tenant"] = "blue" };
        using var client = Client(o => o with { Token = "vault-token", Headers = headers }, _server.BaseUri);
        using var wrongToken = Client(o => o with { Token = "nope" }, _server.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        var request = _server.Requests[0];
        Assert.Equal("vault-token", request.Headers["X-Config-Token"]);
        Assert.Equal("blue", request.Headers["X-Tenant"]);
        Assert.Equal(403, (await wrongToken.FetchAsync(default)).StatusCode);
    }

    [Fact]
    public async Task Fetch_TheV2MediaTypeShape_IsUnwrapped()
    {
        _server.V2Values = true;
        using var client = Client(_server.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal("jdbc:orders", result.Environment!.Merge()["db.url"]);
        Assert.Equal("10", result.Environment.Merge()["pool.size"]);
    }

    [Fact]
    public async Task Fetch_AnUnknownApp_GetsNoSources()
    {
        using var client = Client(o => o with { AppName = "billing" }, _server.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.True(result.Succeeded, result.Error);
        Assert.Empty(result.Environment!.Sources);
    }

    [Fact]
    public async Task Fetch_AnInvalidProfile_IsA400FromTheServer()
    {
        using var client = Client(o => o with { Profiles = ["dev..x"] }, _server.BaseUri);

        var result = await client.FetchAsync(default);

        Assert.Equal(400, result.StatusCode);
    }

    [Fact]
    public void EnvironmentUrl_KeepsTheBasePath_AndEscapesEachSegment()
    {
        var endpoint = ConfigServerEndpoint.Create(new Uri("http://u:p@cfg:8888/config"), new AppConfigOptions());

        Assert.Equal("http://cfg:8888/config/", endpoint.Display);
        Assert.Equal("http://cfg:8888/config/orders/dev,my%20sql/feature(_)x", endpoint.EnvironmentUrl("orders", ["dev", "my sql"], "feature/x").AbsoluteUri);
        Assert.Equal("Basic", endpoint.Authorization!.Scheme);
    }
}

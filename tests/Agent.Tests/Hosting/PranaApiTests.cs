using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Hosting;

/// <summary>Prana's routes keep Prana's paths, bodies and content types (with its 200-for-failure bug fixed).</summary>
public sealed class PranaApiTests
{
    [Fact]
    public async Task Ping_AnswersPong()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>());

        using var response = await agent.Client.GetAsync("/ping");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("pong", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Healthcheck_WhenUp_IsPranasOkBody()
    {
        // No APP_PORT and no APP_HEALTH_URL: nothing to probe, the app counts as UP.
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>());

        using var response = await agent.Client.GetAsync("/healthcheck");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/xml", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("<health>ok</health>", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Healthcheck_WhenNotUp_IsPranasFailBodyWith503()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = $"http://127.0.0.1:{LoopbackServer.RefusingPort()}/health",
            ["APP_HEALTH_INTERVAL"] = "1h",
        });

        using var response = await agent.Client.GetAsync("/healthcheck");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/xml", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("<health>fail</health>", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Status_IsTheInstanceStatusAsJson()
    {
        await using var app = await FakeApp.StartAsync();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_PORT"] = app.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["APP_HEALTH_INTERVAL"] = "100ms",
        });

        await Eventually.TrueAsync(async () => (await agent.Client.GetStringAsync("/status")) == """{"status":"UP"}""", "/status says UP");
        using var response = await agent.Client.GetAsync("/status");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Index_ListsTheRoutes()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>());

        using var document = JsonDocument.Parse(await agent.Client.GetStringAsync("/"));

        var paths = document.RootElement.GetProperty("routes").EnumerateArray().Select(r => r.GetProperty("path").GetString()).ToList();
        foreach (var expected in new[] { "/ping", "/healthcheck", "/status", "/v1/health", "/v1/health/live", "/v1/health/ready" })
        {
            Assert.Contains(expected, paths);
        }
    }

    [Fact]
    public async Task AnUnknownRoute_IsAProblemWithTheSidecarErrorHeader()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>());

        using var response = await agent.Client.GetAsync("/no/such/route?x=1");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("route-not-found", response.Headers.GetValues("X-Sidecar-Error").Single());
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("urn:sidecar-agent:problem:route-not-found", problem.GetProperty("type").GetString());
        Assert.Equal(404, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        Assert.Contains("/no/such/route", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "/ping", "GET, HEAD")]
    [InlineData("FROBNICATE", "/ping", "GET, HEAD")]
    [InlineData("DELETE", "/healthcheck/", "GET, HEAD")]
    [InlineData("GET", "/v1/registration/status", "PUT")]
    [InlineData("POST", "/v1/services/orders/instances", "GET")]
    [InlineData("PUT", "/v1/config/db.url", "GET")]
    public async Task AKnownRouteWithAnotherMethod_IsA405ProblemWithAllow(string method, string path, string allow)
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>());

        var answer = await RawHttp.SendAsync(agent.BaseUri.Port, $"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0");

        Assert.Equal(405, answer.Status); // was 404 route-not-found: the fallback took every method
        Assert.Equal(allow, answer.Header("Allow"));
        Assert.Equal("method-not-allowed", answer.Header("X-Sidecar-Error"));
        Assert.Equal("application/problem+json", answer.Header("Content-Type"));
        using var problem = JsonDocument.Parse(answer.Body);
        Assert.Equal(405, problem.RootElement.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task AnUnknownPathThatLooksLikeAFile_IsAProblemToo()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>());

        using var response = await agent.Client.GetAsync("/no/such/file.txt");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode); // was a bare 404 without a body
        Assert.Equal("route-not-found", response.Headers.GetValues("X-Sidecar-Error").Single());
    }

    [Fact]
    public async Task ThePublicHealthListener_ServesHealthRoutesOnly()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["SIDECAR_PUBLIC_HEALTH_PORT"] = "0" });
        using var client = new HttpClient { BaseAddress = agent.PublicHealthUri };

        foreach (var path in new[] { "/ping", "/healthcheck", "/status", "/v1/health", "/v1/health/live", "/v1/health/ready" })
        {
            using var ok = await client.GetAsync(path);
            Assert.True(ok.StatusCode == HttpStatusCode.OK, $"{path} is served on the public listener");
        }

        using var index = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.NotFound, index.StatusCode);
        Assert.Equal("not-found", index.Headers.GetValues("X-Sidecar-Error").Single());

        using var put = await client.PutAsync("/status", new StringContent("{}"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, put.StatusCode);

        // The same route on the API listener is still served.
        using var apiIndex = await agent.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, apiIndex.StatusCode);
    }
}

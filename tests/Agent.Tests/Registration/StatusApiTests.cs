using System.Net;
using System.Text.Json;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

/// <summary><c>PUT /v1/registration/status</c> and <c>/status</c>: validation and the public listener's refusal.</summary>
public sealed class StatusApiTests
{
    private static Task<AgentHarness> StartAsync() =>
        AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "", ["SIDECAR_PUBLIC_HEALTH_PORT"] = "9999" });

    [Theory]
    [InlineData("", "the body is empty")]
    [InlineData("OUT_OF_SERVICE", "the body is not JSON")]
    [InlineData("""{"state":"UP"}""", "the body has no \"status\" string")]
    [InlineData("""{"status":1}""", "the body has no \"status\" string")]
    [InlineData("""{"status":"DOWN"}""", "'DOWN' is not a status the app can set")]
    [InlineData("""["UP"]""", "the body has no \"status\" string")]
    public async Task Put_WithABadBody_Answers400Problem(string body, string detail)
    {
        await using var agent = await StartAsync();

        using var response = await agent.Client.PutAsync("v1/registration/status", new StringContent(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("bad-request", response.Headers.GetValues("X-Sidecar-Error").Single());
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.StartsWith(detail + ";", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("UP", await Status(agent));
    }

    [Fact]
    public async Task Put_WithInvalidUtf8InTheStatusString_Answers400Problem_Not500()
    {
        await using var agent = await StartAsync();
        using var body = new ByteArrayContent([.. "{\"status\":\""u8, 0xff, 0xfe, .. "\"}"u8]);

        using var response = await agent.Client.PutAsync("v1/registration/status", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("bad-request", response.Headers.GetValues("X-Sidecar-Error").Single());
        Assert.Equal("UP", await Status(agent));
    }

    // A body much larger than the socket buffers is sent with Expect: 100-continue, as curl does above
    // 1 MiB: the 413 then comes before the body is sent. Without it the agent's answer races the client
    // still writing, and the client may see the connection reset instead (what any server does).
    [Theory]
    [InlineData(5000, false)]
    [InlineData(5000, true)]
    [InlineData(2 * 1024 * 1024, false)]
    public async Task Put_ATooLargeBody_Answers413Problem_WithoutChangingTheStatus(int size, bool chunked)
    {
        await using var agent = await StartAsync();
        var body = new string(' ', size) + """{"status":"OUT_OF_SERVICE"}""";
        using var request = new HttpRequestMessage(HttpMethod.Put, "v1/registration/status")
        {
            Content = chunked ? new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(body))) : new StringContent(body),
        };
        request.Headers.TransferEncodingChunked = chunked;
        request.Headers.ExpectContinue = size > 64 * 1024;

        using var response = await agent.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("body-too-large", response.Headers.GetValues("X-Sidecar-Error").Single());
        Assert.Equal("UP", await Status(agent));
    }

    [Fact]
    public async Task Put_InStandaloneMode_ChangesStatus()
    {
        await using var agent = await StartAsync();

        using var outOfService = await agent.Client.PutAsync("v1/registration/status", new StringContent("""{"status":"OUT_OF_SERVICE"}"""));
        Assert.Equal(HttpStatusCode.OK, outOfService.StatusCode);
        Assert.Equal("OUT_OF_SERVICE", await Status(agent));

        using var up = await agent.Client.PutAsync("v1/registration/status", new StringContent("""{"status":"UP"}"""));
        Assert.Equal("UP", await Status(agent));
    }

    [Fact]
    public async Task Put_OnThePublicHealthListener_IsRefused()
    {
        await using var agent = await StartAsync();
        using var client = new HttpClient { BaseAddress = agent.PublicHealthUri };

        using var response = await client.PutAsync("v1/registration/status", new StringContent("""{"status":"OUT_OF_SERVICE"}"""));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("UP", await Status(agent));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("status")).StatusCode);
    }

    private static async Task<string?> Status(AgentHarness agent)
    {
        using var document = JsonDocument.Parse(await agent.Client.GetStringAsync("status"));
        return document.RootElement.GetProperty("status").GetString();
    }
}

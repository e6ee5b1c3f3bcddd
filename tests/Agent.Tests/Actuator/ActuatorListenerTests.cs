using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Sidecar.Hosting;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Actuator;

/// <summary>
/// What the actuator must not do on the public health listener, which anyone on the network reaches
/// (docs/actuator.md#security): serve more than health and info unless told, answer protected endpoints
/// without the credentials, forward, or serve the config unless <c>env</c> is exposed; and a bad setting stops the agent.
/// </summary>
public sealed class ActuatorListenerTests
{
    private static readonly string Credentials = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:s3cret"));

    private static Task<AgentHarness> StartAsync(Dictionary<string, string?> environment)
    {
        environment["SIDECAR_PUBLIC_HEALTH_PORT"] = "9999";
        environment.TryAdd("APP_HEALTH_URL", "");
        return AgentHarness.StartAsync(environment);
    }

    private static Task<RawHttp.Answer> PublicAsync(AgentHarness agent, string method, string target, string headers = "", string? body = null) =>
        RawHttp.SendAsync(agent.PublicHealthUri!.Port,
            $"{method} {target} HTTP/1.1\r\nHost: x{headers}" + (body is null ? "" : $"\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}"), body);

    [Fact]
    public async Task ByDefault_ThePublicListener_ServesTheIndexHealthAndInfoOnly()
    {
        await using var agent = await StartAsync(new() { ["CONFIG_FILE"] = null });

        var index = await PublicAsync(agent, "GET", "/actuator");
        using var links = JsonDocument.Parse(index.Body);
        Assert.Equal(200, index.Status);
        Assert.Equal(["self", "health", "health-path", "info"], links.RootElement.GetProperty("_links").EnumerateObject().Select(l => l.Name));
        foreach (var path in new[] { "/actuator/health", "/actuator/health/liveness", "/actuator/health/readiness", "/actuator/health/app", "/actuator/info" })
        {
            Assert.True((await PublicAsync(agent, "GET", path)).Status == 200, path);
        }

        foreach (var path in new[] { "/actuator/env", "/actuator/env/greeting", "/actuator/loggers", "/actuator/loggers/ROOT", "/actuator/metrics", "/actuator/prometheus", "/actuator/threaddump", "/actuator/heapdump", "/v1/config", "/v1/settings", "/metrics" })
        {
            var answer = await PublicAsync(agent, "GET", path);
            Assert.True(answer.Status == 404, $"{path}: {answer.Status}");
        }

        var post = await PublicAsync(agent, "POST", "/actuator/loggers/ROOT", body: """{"configuredLevel":"DEBUG"}""");
        Assert.Equal(404, post.Status);
        Assert.Equal(405, (await PublicAsync(agent, "DELETE", "/actuator/health")).Status);
        Assert.Equal(406, (await PublicAsync(agent, "GET", "/actuator/health", "\r\nAccept: text/html")).Status);
    }

    [Fact]
    public async Task WithAUser_TheExposedEndpoints_NeedBasicAuth_ButNotTheIndexHealthOrInfo()
    {
        await using var agent = await StartAsync(new()
        {
            ["SIDECAR_ACTUATOR_EXPOSE"] = "*",
            ["SIDECAR_ACTUATOR_USER"] = "admin",
            ["SIDECAR_ACTUATOR_PASSWORD"] = "s3cret",
        });
        var wrong = "\r\nAuthorization: Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:guess"));

        foreach (var path in new[] { "/actuator/env", "/actuator/loggers", "/actuator/loggers/ROOT", "/actuator/metrics", "/actuator/metrics/sidecar.config.keys", "/actuator/prometheus" })
        {
            var none = await PublicAsync(agent, "GET", path);
            Assert.True(none.Status == 401, $"{path} without credentials: {none.Status}");
            Assert.Equal("Basic realm=\"actuator\", charset=\"UTF-8\"", none.Header("WWW-Authenticate"));
            Assert.Equal("unauthorized", none.Header(Problems.ErrorHeader));
            Assert.True((await PublicAsync(agent, "GET", path, wrong)).Status == 401, $"{path} with a wrong password");
            Assert.True((await PublicAsync(agent, "GET", path, "\r\nAuthorization: " + Credentials)).Status == 200, $"{path} with the credentials");
        }

        foreach (var path in new[] { "/actuator", "/actuator/health", "/actuator/info" })
        {
            Assert.True((await PublicAsync(agent, "GET", path)).Status == 200, path);
        }

        var settings = await agent.Client.GetStringAsync("/v1/settings");
        Assert.Contains("\"key\":\"Actuator:Password\"", settings, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", settings, StringComparison.Ordinal); // the password is masked where settings are shown

        var level = agent.Get<AgentLogLevel>();
        Assert.Equal(401, (await PublicAsync(agent, "POST", "/actuator/loggers/ROOT", wrong, """{"configuredLevel":"TRACE"}""")).Status);
        Assert.Equal(Serilog.Events.LogEventLevel.Information, level.Current);
        Assert.Equal(204, (await PublicAsync(agent, "POST", "/actuator/loggers/ROOT", "\r\nAuthorization: " + Credentials, """{"configuredLevel":"TRACE"}""")).Status);
        Assert.Equal(Serilog.Events.LogEventLevel.Verbose, level.Current);
        Assert.Equal(204, (await PublicAsync(agent, "POST", "/actuator/loggers/ROOT", "\r\nAuthorization: " + Credentials, """{"configuredLevel":null}""")).Status);
        Assert.Equal(Serilog.Events.LogEventLevel.Information, level.Current); // null: back to SIDECAR_LOG_LEVEL
        var bad = await PublicAsync(agent, "POST", "/actuator/loggers/ROOT", "\r\nAuthorization: " + Credentials, """{"configuredLevel":"LOUD"}""");
        Assert.Equal(400, bad.Status);
        Assert.Equal(404, (await PublicAsync(agent, "POST", "/actuator/loggers/com.example", "\r\nAuthorization: " + Credentials, """{"configuredLevel":"DEBUG"}""")).Status);
    }

    [Fact]
    public async Task ThePublicListener_NeverForwards_EvenUnderTheActuatorsPaths()
    {
        var upstreamRequests = 0;
        await using var upstream = await LoopbackServer.StartAsync(context =>
        {
            Interlocked.Increment(ref upstreamRequests);
            return context.Response.WriteAsync("from the upstream");
        });
        await using var agent = await StartAsync(new() { ["ROUTES"] = $"orders={upstream.BaseUri.AbsoluteUri.TrimEnd('/')}" });

        var absolute = await RawHttp.SendAsync(agent.PublicHealthUri!.Port, "GET http://orders/actuator/health HTTP/1.1\r\nHost: orders");
        var hostNamed = await RawHttp.SendAsync(agent.PublicHealthUri!.Port, "GET /actuator/info HTTP/1.1\r\nHost: orders");
        var invoke = await RawHttp.SendAsync(agent.PublicHealthUri!.Port, "GET /v1/invoke/orders/actuator/health HTTP/1.1\r\nHost: x");

        Assert.DoesNotContain("from the upstream", absolute.Body + hostNamed.Body + invoke.Body, StringComparison.Ordinal);
        Assert.Contains("\"status\"", absolute.Body, StringComparison.Ordinal); // the agent's own health
        Assert.Equal(404, invoke.Status);
        Assert.Equal(0, upstreamRequests);
        Assert.Equal("from the upstream", await agent.Client.GetStringAsync("/v1/invoke/orders/x")); // the route works on the API
    }

    [Fact]
    public async Task Env_WhenExposed_ServesTheConfigMasked_AndNeverWhenAsked()
    {
        var file = Path.Combine(Path.GetTempPath(), $"actuator-env-{Guid.NewGuid():N}.properties");
        await File.WriteAllTextAsync(file, "greeting=hello\nspring.datasource.password=hunter2\ndb.url=postgres://app:pw@db/orders\n");
        try
        {
            await using (var agent = await StartAsync(new() { ["CONFIG_FILE"] = file, ["SIDECAR_ACTUATOR_EXPOSE"] = "env", ["CONFIG_PROFILE"] = "prod" }))
            {
                var env = await PublicAsync(agent, "GET", "/actuator/env");
                Assert.Equal(200, env.Status);
                Assert.DoesNotContain("hunter2", env.Body, StringComparison.Ordinal);
                Assert.DoesNotContain(":pw@", env.Body, StringComparison.Ordinal);
                using var document = JsonDocument.Parse(env.Body);
                Assert.Equal(["prod"], document.RootElement.GetProperty("activeProfiles").EnumerateArray().Select(p => p.GetString()));
                var properties = document.RootElement.GetProperty("propertySources")[0].GetProperty("properties");
                Assert.Equal("hello", properties.GetProperty("greeting").GetProperty("value").GetString());
                Assert.Equal("******", properties.GetProperty("spring.datasource.password").GetProperty("value").GetString());
                Assert.Equal(404, (await PublicAsync(agent, "GET", "/v1/config")).Status); // the real values stay on the loopback API
                Assert.Contains("\"value\":\"hello\"", (await PublicAsync(agent, "GET", "/actuator/env/greeting")).Body, StringComparison.Ordinal);
                Assert.Equal(404, (await PublicAsync(agent, "GET", "/actuator/env/nothing")).Status);
            }

            await using (var never = await StartAsync(new() { ["CONFIG_FILE"] = file, ["SIDECAR_ACTUATOR_EXPOSE"] = "env", ["Actuator__ShowValues"] = "never" }))
            {
                var env = await PublicAsync(never, "GET", "/actuator/env");
                Assert.DoesNotContain("hello", env.Body, StringComparison.Ordinal);
                Assert.Contains("\"greeting\":{\"value\":\"******\"}", env.Body, StringComparison.Ordinal);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task HealthPolls_GetNoRequestLine_AsTheOtherProbes_ButInfoDoes()
    {
        var logs = new LogCapture();
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "", ["Sidecar__RequestLog"] = "all" }, logs.Install);

        Assert.Equal(System.Net.HttpStatusCode.OK, (await agent.Client.GetAsync("/actuator/health")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await agent.Client.GetAsync("/actuator/health/readiness")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await agent.Client.GetAsync("/actuator/info")).StatusCode);

        await Eventually.TrueAsync(() => logs.Contains("GET /actuator/info 200"), "info got its request line");
        Assert.False(logs.Contains("GET /actuator/health"), logs.Text);
    }

    [Theory]
    [InlineData("SIDECAR_ACTUATOR_EXPOSE", "health,threaddump", "agent: invalid configuration: SIDECAR_ACTUATOR_EXPOSE (Actuator:Expose): 'threaddump' is not an endpoint the agent serves (health, info, prometheus, loggers, env, metrics, or *)")]
    [InlineData("SIDECAR_ACTUATOR_USER", "admin", "agent: invalid configuration: SIDECAR_ACTUATOR_PASSWORD (Actuator:Password): required with SIDECAR_ACTUATOR_USER (Basic auth needs both)")]
    [InlineData("SIDECAR_ACTUATOR_BASE_PATH", "/v1/actuator", "agent: invalid configuration: SIDECAR_ACTUATOR_BASE_PATH (Actuator:BasePath): '/v1/actuator' is under the agent's own route /v1")]
    public async Task ABadSetting_ExitsWithCode2AndOneLine(string variable, string value, string expected)
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string> { [variable] = value });

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(expected, agent.Stderr.TrimEnd());
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sidecar.Hosting;
using Sidecar.Observability;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Observability;

/// <summary>GET /v1/settings (secrets masked) and GET/PUT /v1/logging (the level at run time).</summary>
public sealed class OperationsApiTests
{
    [Fact]
    public async Task Settings_ShowEveryVariable_AndWhatWasSet_WithSecretsMasked()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_HEALTH_URL"] = "",
            ["APP_NAME"] = "orders",
            ["CONFIG_SERVER_URLS"] = "http://config:s3cr3t@127.0.0.1:1/",
            ["CONFIG_FAIL_FAST"] = "false",
            ["OTEL_EXPORTER_OTLP_HEADERS"] = "x-honeycomb-team=abc123,x-env=prod",
            ["APP_METADATA"] = "team=payments",
            ["Forwarding__Retries"] = "1",
            ["AppConfig__Password"] = "hunter2",
            ["ENCRYPT_KEY"] = "my-encrypt-k3y-value",
        });

        using var document = JsonDocument.Parse(await agent.Client.GetStringAsync("/v1/settings"));
        var root = document.RootElement;
        var text = root.GetRawText();
        Assert.DoesNotContain("s3cr3t", text, StringComparison.Ordinal);
        Assert.DoesNotContain("abc123", text, StringComparison.Ordinal);
        Assert.DoesNotContain("prod", text, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal);
        Assert.DoesNotContain("k3y-value", text, StringComparison.Ordinal);
        var settings = root.GetProperty("settings").EnumerateArray().ToDictionary(e => e.GetProperty("key").GetString()!, e => e);
        Assert.Equal("orders", settings["App:Name"].GetProperty("value").GetString());
        Assert.Equal("APP_NAME", settings["App:Name"].GetProperty("variable").GetString());
        Assert.Equal("http://***@127.0.0.1:1/", settings["AppConfig:ServerUrls"].GetProperty("value").GetString());
        Assert.True(settings["AppConfig:ServerUrls"].GetProperty("masked").GetBoolean());
        Assert.Equal("x-honeycomb-team=••••••,x-env=••••••", settings["Observability:Otlp:Headers"].GetProperty("value").GetString());
        Assert.Equal("team=payments", settings["App:Metadata"].GetProperty("value").GetString());
        Assert.Equal("1", settings["Forwarding:Retries"].GetProperty("value").GetString());
        Assert.Equal(JsonValueKind.Null, settings["AppConfig:Password"].GetProperty("variable").ValueKind);
        Assert.Equal(JsonValueKind.Null, settings["Eureka:RenewInterval"].GetProperty("value").ValueKind); // unset: the default applies
        Assert.Equal("SIDECAR_DRAIN", settings["Sidecar:Drain"].GetProperty("variable").GetString());
        foreach (var variable in Sidecar.Configuration.AgentVariables.All)
        {
            Assert.True(settings.ContainsKey(variable.Key), variable.Name);
        }

        Assert.Equal(AgentIndexApi.Version, root.GetProperty("version").GetString());
        Assert.Equal("info", root.GetProperty("logLevel").GetString());
    }

    [Fact]
    public async Task Logging_ChangesTheLevelAtRunTime()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "" });
        var logger = agent.Get<ILoggerFactory>().CreateLogger("Sidecar.Forwarding.ForwardingLog");
        Assert.False(logger.IsEnabled(LogLevel.Debug));
        Assert.Equal("info", (await agent.Client.GetFromJsonAsync<JsonElement>("/v1/logging")).GetProperty("level").GetString());

        using var put = await agent.Client.PutAsJsonAsync("/v1/logging", new { level = "debug" });

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal("debug", (await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("level").GetString());
        Assert.True(logger.IsEnabled(LogLevel.Debug));
        Assert.Equal("debug", (await agent.Client.GetFromJsonAsync<JsonElement>("/v1/logging")).GetProperty("level").GetString());
        // The framework's categories stay quiet.
        Assert.False(agent.Get<ILoggerFactory>().CreateLogger("Microsoft.AspNetCore.Routing.EndpointMiddleware").IsEnabled(LogLevel.Debug));

        using var back = await agent.Client.PutAsJsonAsync("/v1/logging", new { level = "warn" });
        Assert.False(logger.IsEnabled(LogLevel.Information));
    }

    [Fact]
    public async Task Logging_TheLevelOfOneAgent_IsNotTheLevelOfAnotherInTheSameProcess()
    {
        // Each host keeps its own Serilog logger: with the static Log.Logger shared, the agent built last
        // decided every agent's level, and the first one disposed silenced the others.
        await using var first = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "" });
        await using var second = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "" });
        var firstLogger = first.Get<ILoggerFactory>().CreateLogger("Sidecar.Forwarding.ForwardingLog");
        var secondLogger = second.Get<ILoggerFactory>().CreateLogger("Sidecar.Forwarding.ForwardingLog");

        using var put = await first.Client.PutAsJsonAsync("/v1/logging", new { level = "debug" });

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.True(firstLogger.IsEnabled(LogLevel.Debug));
        Assert.False(secondLogger.IsEnabled(LogLevel.Debug));
    }

    [Theory]
    [InlineData("", "the body is not JSON")]
    [InlineData("""{"level":"loud"}""", "'loud' is not a log level")]
    [InlineData("""{"lvl":"debug"}""", "the body has no \"level\" string")]
    public async Task Logging_WithABadBody_Is400_AndChangesNothing(string body, string detail)
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "" });

        using var response = await agent.Client.PutAsync("/v1/logging", new StringContent(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.StartsWith(detail + ";", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(Serilog.Events.LogEventLevel.Information, agent.Get<AgentLogLevel>().Current);
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("10.0.0.7", false)]
    [InlineData("::ffff:10.0.0.7", false)]
    public void TheDayTwoRoutes_AnswerCallersOnTheSameHostOnly(string remote, bool local)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(remote);

        Assert.Equal(local, OperationsApi.IsLocal(context));
    }

    [Fact]
    public async Task TheDayTwoRoutes_AreNotOnThePublicHealthListener()
    {
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["APP_HEALTH_URL"] = "", ["SIDECAR_PUBLIC_HEALTH_PORT"] = "9999" });
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = agent.PublicHealthUri };

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v1/settings")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PutAsJsonAsync("/v1/logging", new { level = "debug" })).StatusCode);
    }
}

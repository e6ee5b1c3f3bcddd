using System.Globalization;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.AppConfig;

/// <summary>The real agent process: exit codes, its one stderr line, and what its log output holds.</summary>
public sealed class AppConfigProcessTests : IDisposable
{
    private readonly ConfigTestSupport _support = new();

    public void Dispose() => _support.Dispose();

    [Fact]
    public async Task FailFast_WithNoServerAndNoCopy_ExitsWithCode2AndOneLine()
    {
        var url = $"http://127.0.0.1:{LoopbackServer.RefusingPort()}/";
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["CONFIG_SERVER_URLS"] = url,
            ["APP_NAME"] = "orders",
            ["CONFIG_FAIL_FAST"] = "true",
            ["SIDECAR_DATA_DIR"] = _support.DataDir,
            ["SIDECAR_PORT"] = "0",
            ["AppConfig__Retry__InitialInterval"] = "10ms", // the default schedule is covered with a fake clock
        });

        var exitCode = await agent.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, exitCode);
        var line = Assert.Single(agent.Stderr.TrimEnd().Split('\n'));
        Assert.Equal(
            $"agent: CONFIG_FAIL_FAST: no config from the Config Server after 6 attempts " +
            $"(every config server is unreachable: {url}: connection refused) and no last-known-good copy in {_support.LastKnownGoodPath}",
            line);
        Assert.DoesNotContain("   at ", agent.Stdout + agent.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("listening on", agent.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("missing.yml", null, "'{0}' does not exist")]
    [InlineData("broken.yml", "a: [1\nb: 2\n", "'{0}': invalid YAML at line")]
    [InlineData("app.ini", "a=1", "'{0}' must end in .json, .yml, .yaml or .properties")]
    public async Task ConfigFile_Unusable_ExitsWithCode2AndOneLine(string name, string? content, string expected)
    {
        var path = Path.Combine(_support.DataDir, name);
        if (content is not null)
        {
            File.WriteAllText(path, content);
        }

        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["CONFIG_FILE"] = path,
            ["SIDECAR_PORT"] = "0",
        });

        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var line = Assert.Single(agent.Stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("agent: invalid configuration: CONFIG_FILE (AppConfig:File): " + string.Format(CultureInfo.InvariantCulture, expected, path), line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Secrets_NeverAppearInTheLogOutput_ThroughLoadChangeFailureAndRecovery()
    {
        await using var server = await FakeConfigServer.StartAsync();
        server.BasicAuth = ("config", "Url-Pa55-9f1d");
        server.RequiredToken = "Vault-T0ken-77ab";
        server.Set("orders", new Dictionary<string, object?>
        {
            ["db.password"] = "Db-Pa55-3c2e",
            ["stripe.apiKey"] = "Sk-Live-5e8a",
            ["greeting"] = "hello",
        });
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["CONFIG_SERVER_URLS"] = $"http://config:Url-Pa55-9f1d@127.0.0.1:{server.Port}/",
            ["APP_NAME"] = "orders",
            ["CONFIG_POLL_INTERVAL"] = "1s",
            ["AppConfig__Token"] = "Vault-T0ken-77ab",
            ["AppConfig__Headers__X-Api-Secret"] = "Header-S3cret-41f0",
            ["SIDECAR_LOG_LEVEL"] = "verbose",
            ["SIDECAR_DATA_DIR"] = _support.DataDir,
            ["SIDECAR_PORT"] = "0",
        });
        await agent.WaitForOutputAsync("Config loaded from");

        server.SetProperty("orders", "db.password", "Db-Pa55-ROTATED-11aa");
        server.SetProperty("orders", "oauth.clientSecret", "Client-S3cret-22bb");
        await agent.WaitForOutputAsync("Config changed");
        server.FailWithStatus = 500;
        await agent.WaitForOutputAsync("Config refresh failed");
        server.FailWithStatus = null;
        await agent.WaitForOutputAsync("answers again");
        agent.Terminate();
        await agent.WaitForExitAsync(TimeSpan.FromSeconds(30));

        var output = agent.Stdout + agent.Stderr;
        Assert.Contains("changed [db.password]", output, StringComparison.Ordinal); // the change log names keys...
        Assert.Contains("added [oauth.clientSecret]", output, StringComparison.Ordinal);
        foreach (var secret in new[] { "Url-Pa55-9f1d", "Vault-T0ken-77ab", "Header-S3cret-41f0", "Db-Pa55-3c2e", "Sk-Live-5e8a", "Db-Pa55-ROTATED-11aa", "Client-S3cret-22bb" })
        {
            Assert.DoesNotContain(secret, output, StringComparison.Ordinal); // ...never values
        }
    }

    [Fact]
    public async Task Secrets_NeverReachAnyLoggerArgument_InProcess()
    {
        await using var server = await FakeConfigServer.StartAsync();
        server.BasicAuth = ("config", "Url-Pa55-9f1d");
        server.Set("orders", new Dictionary<string, object?> { ["db.password"] = "Db-Pa55-3c2e" });
        var env = _support.Environment(null,
            ("CONFIG_SERVER_URLS", $"http://config:Url-Pa55-9f1d@127.0.0.1:{server.Port}/"),
            ("CONFIG_POLL_INTERVAL", "0"),
            ("AppConfig__Token", "Vault-T0ken-77ab"));
        await using (var agent = await _support.StartAgentAsync(env))
        {
            var refresher = agent.Get<Sidecar.AppConfig.AppConfigRefresher>();
            server.SetProperty("orders", "db.password", "Db-Pa55-ROTATED-11aa");
            await refresher.RefreshOnceAsync(default);
            server.Body = FakeConfigBody.BrokenJson;
            await refresher.RefreshOnceAsync(default);
            await server.StopAsync();
            await refresher.RefreshOnceAsync(default);
        }

        await using (var restarted = await _support.StartAgentAsync(env))
        {
            Assert.Equal("Db-Pa55-ROTATED-11aa", await restarted.Client.GetStringAsync("v1/config/db.password"));
        }

        Assert.True(_support.Logs.Contains("changed [db.password]"));
        Assert.True(_support.Logs.Contains("serving the last-known-good copy"));
        foreach (var secret in new[] { "Url-Pa55-9f1d", "Vault-T0ken-77ab", "Db-Pa55-3c2e", "Db-Pa55-ROTATED-11aa" })
        {
            Assert.DoesNotContain(secret, _support.Logs.Text, StringComparison.Ordinal);
        }
    }
}

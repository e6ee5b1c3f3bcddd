using Sidecar.Tests.Fakes;

namespace Sidecar.Tests.AppConfig;

/// <summary>
/// The real agent against the fake Config Server and a local file: what a Spring app would read from
/// the same server and file, <c>{cipher}</c> values, placeholders and lists included.
/// </summary>
public sealed class SpringEnvironmentTests : IAsyncLifetime
{
    // Made with python3's hashlib (PBKDF2-HMAC-SHA1, salt deadbeef, 1024 rounds) and openssl enc -aes-256-cbc: see EffectiveConfigTests.
    private const string Key = "my-config-key";
    private const string SecretCipher = "{cipher}000102030405060708090a0b0c0d0e0f47c7ace30f466d4300a5a2fd45d8138b";

    private readonly ConfigTestSupport _support = new();
    private FakeConfigServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await FakeConfigServer.StartAsync();

        // The shape of a real answer for orders.yml with an encrypted password (quoted in YAML, as Spring's docs write it).
        _server.Set("orders", new Dictionary<string, object?>
        {
            ["db.user"] = "orders",
            ["db.password"] = SecretCipher,
            ["db.url"] = "jdbc:postgresql://${db.host}:${db.port:5432}/orders",
        });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _support.Dispose();
    }

    [Fact]
    public async Task ACipherValue_WithoutENCRYPT_KEY_IsServedEmpty_WarnedByKey_AndShownInHealth()
    {
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_POLL_INTERVAL", "0")));

        var (values, _) = await ConfigTestSupport.GetConfigAsync(agent.Client);
        var health = await ConfigTestSupport.ConfigHealthAsync(agent.Client);

        Assert.Equal("", values["db.password"]);
        Assert.DoesNotContain(values.Values, v => v.Contains("{cipher}", StringComparison.Ordinal));
        Assert.True(health.GetProperty("ready").GetBoolean());
        Assert.Contains("not decrypted, served empty: db.password", health.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(_support.Logs.Contains("Config values not decrypted, served empty: db.password (ENCRYPT_KEY is not set)"), _support.Logs.Text);

        // The copy on disk keeps the ciphertext: secrets stay encrypted at rest.
        var saved = await File.ReadAllTextAsync(_support.LastKnownGoodPath);
        Assert.Contains(SecretCipher, saved, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACipherValue_WithENCRYPT_KEY_IsDecrypted_AndTheCopyOnDiskStaysEncrypted()
    {
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_POLL_INTERVAL", "0"), ("ENCRYPT_KEY", Key)));

        var (values, _) = await ConfigTestSupport.GetConfigAsync(agent.Client);
        var health = await ConfigTestSupport.ConfigHealthAsync(agent.Client);

        Assert.Equal("s3cr3t-päss", values["db.password"]);
        Assert.DoesNotContain("decrypt", health.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var saved = await File.ReadAllTextAsync(_support.LastKnownGoodPath);
        Assert.DoesNotContain("s3cr3t", saved, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AValueTheServerCouldNotDecrypt_IsReportedInHealth()
    {
        _server.CannotDecrypt = true;
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_POLL_INTERVAL", "0")));

        var (values, _) = await ConfigTestSupport.GetConfigAsync(agent.Client);
        var health = await ConfigTestSupport.ConfigHealthAsync(agent.Client);

        Assert.Equal("<n/a>", values["invalid.db.password"]);
        Assert.False(values.ContainsKey("db.password"));
        Assert.Contains("the Config Server could not decrypt: invalid.db.password", health.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(_support.Logs.Contains("The Config Server could not decrypt invalid.db.password"), _support.Logs.Text);
    }

    [Fact]
    public async Task Placeholders_ResolveAcrossTheServerAndTheFile_AndListsComeWholeFromOneSource()
    {
        var file = _support.WriteFile("application.yml", """
            db:
              host: db.internal
            greeting: "hello from ${spring.application.name:an app} as ${db.user}"
            missing: "${no.such.key}"
            servers:
              - a.internal
              - b.internal
              - c.internal
            """);
        _server.SetProperty("orders", "servers[0]", "only.internal");
        await using var agent = await _support.StartAgentAsync(_support.Environment(_server, ("CONFIG_FILE", file), ("CONFIG_POLL_INTERVAL", "0")));

        var (values, _) = await ConfigTestSupport.GetConfigAsync(agent.Client);
        var health = await ConfigTestSupport.ConfigHealthAsync(agent.Client);

        Assert.Equal("jdbc:postgresql://db.internal:5432/orders", values["db.url"]); // a server value, a host from the file
        Assert.Equal("hello from an app as orders", values["greeting"]);
        Assert.Equal("${no.such.key}", values["missing"]);
        Assert.Equal("only.internal", values["servers[0]"]);
        Assert.False(values.ContainsKey("servers[1]")); // not b.internal from the file: the server's list is the list
        Assert.Contains("unresolved placeholders in: missing", health.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(_support.Logs.Contains("Config placeholders that cannot be resolved, served as written, in: missing"), _support.Logs.Text);
    }
}

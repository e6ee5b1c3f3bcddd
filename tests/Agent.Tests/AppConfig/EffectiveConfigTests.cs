using Sidecar.AppConfig;

namespace Sidecar.Tests.AppConfig;

/// <summary>How the served config is built from its sources: lists, <c>{cipher}</c> values, placeholders.</summary>
[Trait("Category", "Unit")]
public sealed class EffectiveConfigTests
{
    // Test vectors made without .NET, with the parameters of Spring Security's Encryptors.text(key, salt):
    //   key = python3 -c "import hashlib; print(hashlib.pbkdf2_hmac('sha1', b'my-config-key', bytes.fromhex('deadbeef'), 1024, 32).hex())"
    //   printf 's3cr3t-päss' | openssl enc -aes-256-cbc -K $key -iv 000102030405060708090a0b0c0d0e0f | xxd -p
    // and the hex of the IV put in front, as AesBytesEncryptor writes it.
    private const string Key = "my-config-key";
    private const string SecretCipher = "000102030405060708090a0b0c0d0e0f47c7ace30f466d4300a5a2fd45d8138b";

    // The same with the salt cafe0123 and the IV f0e1d2c3b4a5968778695a4b3c2d1e0f: "jdbc:postgresql://db:5432/orders".
    private const string UrlCipherSaltCafe = "f0e1d2c3b4a5968778695a4b3c2d1e0fb28fa8d0052a9873d4421535f4f04ab41bc9828c0cc2a6cec5f6823b9c63f58485ca5fee7b5312c35fadbf5dce817e69";

    private static Dictionary<string, string> Source(params (string Key, string Value)[] entries) =>
        entries.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);

    private static EffectiveConfig Build(CipherDecryptor? decryptor, params Dictionary<string, string>[] sources) =>
        EffectiveConfig.Build(sources, decryptor);

    [Fact]
    public void Decrypt_AnIndependentlyMadeVector_WithTheDefaultSalt()
    {
        var decryptor = new CipherDecryptor(Key);

        Assert.True(decryptor.TryDecrypt("{cipher}" + SecretCipher, out var plaintext));
        Assert.Equal("s3cr3t-päss", plaintext);
        Assert.True(decryptor.TryDecrypt("{cipher}" + SecretCipher.ToUpperInvariant(), out plaintext)); // Spring's Hex.decode takes either case
        Assert.Equal("s3cr3t-päss", plaintext);
    }

    [Fact]
    public void Decrypt_AnIndependentlyMadeVector_WithAnotherSalt()
    {
        Assert.True(new CipherDecryptor(Key, "cafe0123").TryDecrypt("{cipher}" + UrlCipherSaltCafe, out var plaintext));
        Assert.Equal("jdbc:postgresql://db:5432/orders", plaintext);
        Assert.False(new CipherDecryptor(Key).TryDecrypt("{cipher}" + UrlCipherSaltCafe, out _));
    }

    [Theory]
    [InlineData("{cipher}" + SecretCipher, "another-key")] // the wrong key
    [InlineData("{cipher}not-hex-at-all-not-hex-at-all-not-hex-at-all-not-hex-at-all!", Key)]
    [InlineData("{cipher}00010203", Key)] // shorter than an IV and a block
    [InlineData("{cipher}{key:other}" + SecretCipher, Key)] // a server-side key prefix: the client cannot use it
    public void Decrypt_WhatIsNotThisKeysCiphertext_Fails(string value, string key)
    {
        Assert.False(new CipherDecryptor(key).TryDecrypt(value, out _));
    }

    [Fact]
    public void Build_DecryptsTheWinningCipherValues_WithTheKey()
    {
        var config = Build(new CipherDecryptor(Key),
            Source(("db.password", "{cipher}" + SecretCipher)),
            Source(("db.password", "{cipher}ffff"), ("db.user", "orders")));

        Assert.Equal("s3cr3t-päss", config.Values["db.password"]);
        Assert.Empty(config.NotDecrypted);
        Assert.Equal("", config.Problems());
    }

    [Fact]
    public void Build_WithoutAKey_ServesACipherValueEmpty_AndReportsItsKey()
    {
        // Spring's client never hands "{cipher}..." over as the value: it blanks it and warns "Cannot decrypt: key=...".
        var config = Build(null,
            Source(("db.password", "{cipher}" + SecretCipher), ("api.token", "{cipher}" + SecretCipher), ("db.user", "orders")));

        Assert.Equal("", config.Values["db.password"]);
        Assert.Equal("", config.Values["api.token"]);
        Assert.Equal("orders", config.Values["db.user"]);
        Assert.Equal(["api.token", "db.password"], config.NotDecrypted);
        Assert.Contains("not decrypted, served empty: api.token, db.password", config.Problems(), StringComparison.Ordinal);
        Assert.DoesNotContain(SecretCipher, config.Problems(), StringComparison.Ordinal);
    }

    [Fact]
    public void Build_ACipherValueHiddenByAPlainOne_IsNeitherDecryptedNorReported()
    {
        var config = Build(null, Source(("db.password", "plain")), Source(("db.password", "{cipher}" + SecretCipher)));

        Assert.Equal("plain", config.Values["db.password"]);
        Assert.Empty(config.NotDecrypted);
    }

    [Fact]
    public void Build_KeysTheServerCouldNotDecrypt_AreServedAsTheServerSentThem_AndReported()
    {
        // Spring Cloud Config Server's CipherEnvironmentEncryptor: "invalid.{key}": "<n/a>", the key itself gone.
        var config = Build(null, Source(("invalid.db.password", "<n/a>"), ("db.user", "orders")));

        Assert.Equal("<n/a>", config.Values["invalid.db.password"]);
        Assert.False(config.Values.ContainsKey("db.password"));
        Assert.Equal(["invalid.db.password"], config.InvalidFromServer);
        Assert.Contains("the Config Server could not decrypt: invalid.db.password", config.Problems(), StringComparison.Ordinal);
    }

    [Fact]
    public void Build_ListsComeWholeFromTheHighestSourceThatHasThem()
    {
        // Config Server sources (orders-dev.yml over orders.yml), then the file: Spring Boot binds a list from one source.
        var config = Build(null,
            Source(("servers[0].host", "dev-1"), ("name", "dev")),
            Source(("servers[0].host", "a"), ("servers[0].port", "1"), ("servers[1].host", "b"), ("servers[2].host", "c"), ("timeout", "5s")),
            Source(("servers[0].host", "file"), ("servers[3].host", "file-d"), ("tags[0]", "x"), ("tags[1]", "y")));

        Assert.Equal(new Dictionary<string, string>
        {
            ["servers[0].host"] = "dev-1",
            ["name"] = "dev",
            ["timeout"] = "5s",
            ["tags[0]"] = "x",
            ["tags[1]"] = "y",
        }, config.Values);
    }

    [Fact]
    public void Build_AnEmptyListAbove_EmptiesTheList()
    {
        var config = Build(null, Source(("servers", "")), Source(("servers[0]", "a"), ("servers[1]", "b")));

        Assert.Equal(new Dictionary<string, string> { ["servers"] = "" }, config.Values);
    }

    [Fact]
    public void Build_NestedListsFollowTheirOutermostList()
    {
        var config = Build(null,
            Source(("a.b[0].c[0]", "top")),
            Source(("a.b[0].c[0]", "low"), ("a.b[0].c[1]", "low-2"), ("a.b[1].c[0]", "low-3"), ("a.d[0]", "own")));

        Assert.Equal(new Dictionary<string, string> { ["a.b[0].c[0]"] = "top", ["a.d[0]"] = "own" }, config.Values);
    }

    [Fact]
    public void Build_ResolvesPlaceholdersAcrossEverySource_WithDefaults()
    {
        var config = Build(null,
            Source(("db.host", "db.prod"), ("db.url", "jdbc:postgresql://${db.host}:${db.port:5432}/${app.name}")),
            Source(("app.name", "orders"), ("greeting", "hello ${user.name:guest} from ${app.name}"), ("empty.default", "[${nothing:}]")));

        Assert.Equal("jdbc:postgresql://db.prod:5432/orders", config.Values["db.url"]);
        Assert.Equal("hello guest from orders", config.Values["greeting"]);
        Assert.Equal("[]", config.Values["empty.default"]);
        Assert.Empty(config.Unresolved);
    }

    [Fact]
    public void Build_NestedPlaceholders_AndResolvedTextResolvedAgain()
    {
        var config = Build(null, Source(
            ("env", "prod"),
            ("prod.url", "http://prod"),
            ("url", "${${env}.url}"),
            ("fallback", "${missing:${env}}"),
            ("chain", "${url}/x"),
            ("literal", @"\${not.a.placeholder}")));

        Assert.Equal("http://prod", config.Values["url"]);
        Assert.Equal("prod", config.Values["fallback"]);
        Assert.Equal("http://prod/x", config.Values["chain"]);
        Assert.Equal("${not.a.placeholder}", config.Values["literal"]);
    }

    [Fact]
    public void Build_UnresolvablePlaceholders_StayAsWritten_AndAreReported()
    {
        var config = Build(null, Source(
            ("a", "x-${missing}-${b}"),
            ("b", "ok"),
            ("loop.one", "${loop.two}"),
            ("loop.two", "${loop.one}"),
            ("unclosed", "${oops")));

        Assert.Equal("x-${missing}-ok", config.Values["a"]);
        Assert.Equal("${oops", config.Values["unclosed"]);
        Assert.StartsWith("${", config.Values["loop.one"], StringComparison.Ordinal);
        Assert.Equal(["a", "loop.one", "loop.two"], config.Unresolved);
        Assert.Contains("unresolved placeholders in: a, loop.one, loop.two", config.Problems(), StringComparison.Ordinal);
    }

    [Fact]
    public void Build_APlaceholderSeesTheDecryptedValue()
    {
        var config = Build(new CipherDecryptor(Key), Source(("db.password", "{cipher}" + SecretCipher), ("dsn", "user=orders password=${db.password}")));

        Assert.Equal("user=orders password=s3cr3t-päss", config.Values["dsn"]);
    }
}

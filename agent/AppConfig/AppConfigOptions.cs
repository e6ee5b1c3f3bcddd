using System.Globalization;
using Sidecar.Configuration;

namespace Sidecar.AppConfig;

/// <summary>
/// Where the app's configuration comes from (<c>AppConfig:*</c>, the <c>CONFIG_*</c> variables):
/// an optional local file below an optional Spring Cloud Config Server (docs/config-server.md).
/// </summary>
internal sealed record AppConfigOptions
{
    /// <summary>Config Server base URLs, tried in order (see <see cref="MultipleUriStrategy"/>). Default none (no server).</summary>
    public IReadOnlyList<Uri> ServerUrls { get; init; } = [];

    /// <summary>The application name asked of the Config Server (<c>APP_NAME</c>). Required when <see cref="ServerUrls"/> is set.</summary>
    public string? AppName { get; init; }

    /// <summary>Profiles asked for, in order (the server gives later ones precedence). Default <c>default</c>.</summary>
    public IReadOnlyList<string> Profiles { get; init; } = ["default"];

    /// <summary>Labels tried in order: a 404 moves on to the next. Default none (the server's default label).</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];

    /// <summary>How often the server and the file are re-read. Default 30 s; zero means never.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Refuse to start (exit 2) when neither the server nor the last-known-good copy gives a config. Default false.</summary>
    public bool FailFast { get; init; }

    /// <summary>The local config file (full path), the lowest-precedence source. Default none.</summary>
    public string? File { get; init; }

    /// <summary>The file's format, from its extension.</summary>
    public ConfigFileFormat FileFormat { get; init; }

    /// <summary>
    /// A config to start with when no Config Server answers at start and there is no last-known-good copy
    /// (<c>CONFIG_SEED_FILE</c>, a mounted ConfigMap say): it stands in for the server's values until a server
    /// answers. Same formats as <see cref="File"/>. Default none.
    /// </summary>
    public string? SeedFile { get; init; }

    /// <summary>The seed file's format, from its extension.</summary>
    public ConfigFileFormat SeedFileFormat { get; init; }

    /// <summary>
    /// Basic-auth user (<c>AppConfig:Username</c>). Default <c>user</c>, as Spring's; it wins over a URL's
    /// userinfo unless it is <c>user</c>. Sent only with a password.
    /// </summary>
    public string? Username { get; init; }

    /// <summary>Basic-auth password (<c>AppConfig:Password</c>); wins over a URL's userinfo, as in Spring. Default none (no Authorization header).</summary>
    public string? Password { get; init; }

    /// <summary>
    /// Which failures move on to the next of <see cref="ServerUrls"/> (<c>AppConfig:MultipleUriStrategy</c>):
    /// <c>always</c> (Spring Cloud Config 4's default: any error or non-200 answer) or
    /// <c>connection_timeout_only</c> (Spring Cloud Config 3: only a server that gives no answer). Default always.
    /// </summary>
    public MultipleUriStrategy MultipleUriStrategy { get; init; } = MultipleUriStrategy.Always;

    /// <summary>Sent as <c>X-Config-Token</c> (Vault backend, <c>AppConfig:Token</c>). Default none.</summary>
    public string? Token { get; init; }

    /// <summary>Extra request headers (<c>AppConfig:Headers:{name}</c>). Default none.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Time-out of one request to one server (<c>AppConfig:Timeout</c>). Default 10 s: the start waits for
    /// the first load, so Steeltoe v4's 60 s per URL and attempt would hold a container start for minutes,
    /// while 10 s still leaves a server room for the cold git clone of its first request.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The symmetric key <c>{cipher}</c> values are decrypted with (<c>ENCRYPT_KEY</c>, Spring's
    /// <c>encrypt.key</c>). Default none: such values are served empty, with a warning.
    /// </summary>
    public string? EncryptKey { get; init; }

    /// <summary>The hex salt of the key derivation (<c>ENCRYPT_SALT</c>, Spring's <c>encrypt.salt</c>). Default <c>deadbeef</c>.</summary>
    public string EncryptSalt { get; init; } = CipherDecryptor.DefaultSalt;

    /// <summary>Retry of the first load, used only with <see cref="FailFast"/> (Steeltoe's defaults).</summary>
    public ConfigRetryOptions Retry { get; init; } = new();

    /// <summary>True when a Config Server is configured.</summary>
    public bool UsesServer => ServerUrls.Count > 0;

    internal static AppConfigOptions Read(SettingsReader r, AppOptions app)
    {
        var urls = r.HttpUrlList("AppConfig:ServerUrls");
        if (urls.Count > 0 && app.Name is null)
        {
            r.AddError("App:Name", "required when CONFIG_SERVER_URLS is set (the application name asked of the Config Server)");
        }

        var profiles = r.List("AppConfig:Profile");
        // docs/configuration.md: "0 = never"; a bare 0 needs no unit (DurationParser wants one for any other number).
        var pollInterval = r.String("AppConfig:PollInterval") == "0"
            ? TimeSpan.Zero
            : r.Duration("AppConfig:PollInterval", TimeSpan.FromSeconds(30), TimeSpan.Zero, TimeSpan.FromDays(1));
        if (pollInterval > TimeSpan.Zero && pollInterval < TimeSpan.FromSeconds(1))
        {
            r.AddError("AppConfig:PollInterval", $"'{r.String("AppConfig:PollInterval")}' must be 0 (never) or at least 1s");
        }

        var (file, format) = ReadFile(r, "AppConfig:File");
        var (seed, seedFormat) = ReadFile(r, "AppConfig:SeedFile");
        var headers = ReadHeaders(r);
        var password = r.String("AppConfig:Password"); // trimmed, as Spring does
        if (headers.ContainsKey("Authorization") && (password is not null || urls.Any(u => u.UserInfo is { Length: > 0 } and not ":")))
        {
            // Spring's ConfigClientRequestTemplateFactory refuses the same: "You must set either 'password' or 'authorization'".
            r.AddError("AppConfig:Headers:Authorization", "set either a password (AppConfig:Password or the URL's userinfo) or an Authorization header, not both");
        }

        // Taken as written (no trimming: a key may end in a space); Spring's key and salt rules.
        var encryptKey = r.Raw("AppConfig:EncryptKey") is { Length: > 0 } key ? key : null;
        if (encryptKey is not null && CipherDecryptor.ValidateKey(encryptKey) is { } keyError)
        {
            r.AddError("AppConfig:EncryptKey", keyError);
        }

        var encryptSalt = r.String("AppConfig:EncryptSalt") ?? CipherDecryptor.DefaultSalt;
        if (CipherDecryptor.ValidateSalt(encryptSalt) is { } saltError)
        {
            r.AddError("AppConfig:EncryptSalt", saltError);
            encryptSalt = CipherDecryptor.DefaultSalt;
        }

        return new AppConfigOptions
        {
            ServerUrls = urls,
            AppName = app.Name,
            Profiles = profiles.Count > 0 ? profiles : ["default"],
            Labels = r.List("AppConfig:Label"),
            PollInterval = pollInterval,
            FailFast = r.Bool("AppConfig:FailFast", false),
            File = file,
            FileFormat = format,
            SeedFile = seed,
            SeedFileFormat = seedFormat,
            Username = r.String("AppConfig:Username"),
            Password = password,
            MultipleUriStrategy = ReadStrategy(r),
            Token = r.String("AppConfig:Token"),
            Headers = headers,
            Timeout = r.Duration("AppConfig:Timeout", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)),
            Retry = ConfigRetryOptions.Read(r),
            EncryptKey = encryptKey,
            EncryptSalt = encryptSalt,
        };
    }

    // Spring's enum names (ALWAYS, CONNECTION_TIMEOUT_ONLY), any case, '-' for '_' as relaxed binding allows.
    private static MultipleUriStrategy ReadStrategy(SettingsReader r)
    {
        const string key = "AppConfig:MultipleUriStrategy";
        switch (r.String(key)?.Replace('-', '_').ToUpperInvariant())
        {
            case null or "ALWAYS":
                return MultipleUriStrategy.Always;
            case "CONNECTION_TIMEOUT_ONLY":
                return MultipleUriStrategy.ConnectionTimeoutOnly;
            default:
                r.AddError(key, $"'{r.String(key)}' is not always or connection_timeout_only");
                return MultipleUriStrategy.Always;
        }
    }

    private static (string? Path, ConfigFileFormat Format) ReadFile(SettingsReader r, string key)
    {
        var value = r.String(key);
        if (value is null)
        {
            return (null, default);
        }

        ConfigFileFormat? format = Path.GetExtension(value).ToLowerInvariant() switch
        {
            ".json" => ConfigFileFormat.Json,
            ".yml" or ".yaml" => ConfigFileFormat.Yaml,
            ".properties" => ConfigFileFormat.Properties,
            _ => null,
        };

        if (format is null)
        {
            r.AddError(key, $"'{value}' must end in .json, .yml, .yaml or .properties");
            return (null, default);
        }

        return (Path.GetFullPath(value), format.Value);
    }

    private static Dictionary<string, string> ReadHeaders(SettingsReader r)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in r.Configuration.GetSection("AppConfig:Headers").GetChildren())
        {
            var key = "AppConfig:Headers:" + header.Key;
            var value = header.Value ?? "";
            if (!SettingsReader.IsHeaderName(header.Key))
            {
                r.AddError(key, $"'{header.Key}' is not a valid header name");
            }
            else if (value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
            {
                r.AddError(key, "a header value may not contain line breaks");
            }
            else
            {
                result[header.Key] = value;
            }
        }

        return result;
    }
}

/// <summary>
/// Steeltoe's Config Server retry (<c>AppConfig:Retry:*</c>), applied to the first load only and only
/// with fail-fast: after a failed attempt wait, then multiply the wait, up to a maximum.
/// </summary>
internal sealed record ConfigRetryOptions
{
    /// <summary>Attempts in all. Default 6.</summary>
    public int MaxAttempts { get; init; } = 6;

    /// <summary>Wait after the first failure. Default 1000 ms.</summary>
    public TimeSpan InitialInterval { get; init; } = TimeSpan.FromMilliseconds(1000);

    /// <summary>Factor applied to the wait after each failure. Default 1.1.</summary>
    public double Multiplier { get; init; } = 1.1;

    /// <summary>The longest wait. Default 2000 ms.</summary>
    public TimeSpan MaxInterval { get; init; } = TimeSpan.FromMilliseconds(2000);

    /// <summary>The wait after failed attempt <paramref name="attempt"/> (1-based), truncated to whole milliseconds as Steeltoe does.</summary>
    public TimeSpan DelayAfter(int attempt)
    {
        var ms = InitialInterval.TotalMilliseconds;
        for (var i = 1; i < attempt; i++)
        {
            ms = Math.Min(Math.Floor(ms * Multiplier), MaxInterval.TotalMilliseconds);
        }

        return TimeSpan.FromMilliseconds(Math.Min(ms, MaxInterval.TotalMilliseconds));
    }

    internal static ConfigRetryOptions Read(SettingsReader r)
    {
        const string multiplierKey = "AppConfig:Retry:Multiplier";
        var multiplier = 1.1;
        if (r.String(multiplierKey) is { } text &&
            (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out multiplier) || multiplier is < 1 or > 10))
        {
            r.AddError(multiplierKey, $"'{text}' is not a number between 1 and 10");
            multiplier = 1.1;
        }

        return new ConfigRetryOptions
        {
            MaxAttempts = r.Int("AppConfig:Retry:MaxAttempts", 6, 1, 100),
            InitialInterval = r.Duration("AppConfig:Retry:InitialInterval", TimeSpan.FromMilliseconds(1000), TimeSpan.Zero, TimeSpan.FromMinutes(5)),
            Multiplier = multiplier,
            MaxInterval = r.Duration("AppConfig:Retry:MaxInterval", TimeSpan.FromMilliseconds(2000), TimeSpan.Zero, TimeSpan.FromMinutes(10)),
        };
    }
}

/// <summary>Spring Cloud Config's <c>spring.cloud.config.multiple-uri-strategy</c>.</summary>
internal enum MultipleUriStrategy
{
    /// <summary>Any failure of a server moves on to the next (Spring Cloud Config 4's default).</summary>
    Always,

    /// <summary>Only a server that gives no answer moves on (Spring Cloud Config 3).</summary>
    ConnectionTimeoutOnly,
}

internal enum ConfigFileFormat
{
    Json,
    Yaml,
    Properties,
}

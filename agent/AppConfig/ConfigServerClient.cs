using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.AppConfig;

/// <summary>
/// Reads the app's environment from a Spring Cloud Config Server (docs/config-server.md#protocol-notes):
/// <c>GET {uri}/{application}/{profiles}[/{label}]</c> with <c>Accept: application/json</c>, Basic auth,
/// <c>X-Config-Token</c> and configured headers. Labels and servers are tried in Spring's order (see
/// <see cref="FetchAsync"/> and docs/config-server.md#servers-and-failures). Never throws for the server's failures.
/// </summary>
internal sealed partial class ConfigServerClient : IDisposable
{
    // An environment is a few KiB; a cap keeps a broken proxy from making the agent buffer gigabytes.
    internal const int MaxBodyBytes = 16 * 1024 * 1024;

    private readonly AppConfigOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ConfigServerClient> _logger;
    private readonly HttpClient _client;
    private readonly ConfigServerEndpoint[] _endpoints;

    public ConfigServerClient(AppConfigOptions options, TimeProvider time, ILogger<ConfigServerClient> logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _endpoints = options.ServerUrls.Select(u => ConfigServerEndpoint.Create(u, options)).ToArray();
        // No proxy, no redirect (one would carry X-Config-Token and custom headers to another host): AgentHttpHandler.
        var handler = AgentHttpHandler.Create(options.Timeout, TimeSpan.FromMinutes(2));
        handler.AutomaticDecompression = DecompressionMethods.All;
        _client = AgentHttpHandler.Client(handler); // our own token carries the time-out (on the injected clock)
    }

    /// <summary>
    /// Asks for each label in turn (a label every server answers 404 for moves on to the next label) and,
    /// per label, the servers in order, as Spring's <c>ConfigServerConfigDataLoader</c> does (the rules in
    /// <see cref="ConfigServerFailover"/>): with
    /// <see cref="MultipleUriStrategy.Always"/> (Spring 4's default) any failure moves on to the next server;
    /// with <see cref="MultipleUriStrategy.ConnectionTimeoutOnly"/> (Spring 3's) only a server that gives
    /// no answer does, and any answer decides.
    /// </summary>
    public async Task<ConfigFetchResult> FetchAsync(CancellationToken cancellationToken)
    {
        string?[] labels = _options.Labels.Count > 0 ? [.. _options.Labels] : [null];
        var errors = new List<string>(_endpoints.Length);
        ConfigFetchResult? last = null;
        for (var l = 0; l < labels.Length; l++)
        {
            var label = labels[l];
            errors.Clear();
            var unreachable = 0;
            for (var i = 0; i < _endpoints.Length; i++)
            {
                var endpoint = _endpoints[i];
                var result = await RequestAsync(endpoint, label, cancellationToken).ConfigureAwait(false);
                if (result.Succeeded)
                {
                    return result;
                }

                last = result;
                errors.Add(result.Error);
                unreachable += result.Unreachable ? 1 : 0;
                var step = ConfigServerFailover.AfterFailure(result.Unreachable, result.StatusCode, hasNextServer: i + 1 < _endpoints.Length,
                    hasNextLabel: label is not null && l + 1 < labels.Length, unreachable, _endpoints.Length, _options.MultipleUriStrategy);
                if (step == FailoverStep.NextServer)
                {
                    LogTryingNext(_logger, result.Error, _endpoints[i + 1].Display);
                    continue;
                }

                if (step == FailoverStep.NextLabel)
                {
                    LogLabelNotFound(_logger, label!, endpoint.Display, labels[l + 1]!);
                    break;
                }

                if (step == FailoverStep.EveryServerUnreachable)
                {
                    return ConfigFetchResult.Failure(label, "every config server is unreachable: " + string.Join("; ", errors), unreachable: true);
                }

                return errors.Count == 1 ? result : result with { Error = "no config server gave a config: " + string.Join("; ", errors) };
            }
        }

        return last!;
    }

    public void Dispose() => _client.Dispose();

    private async Task<ConfigFetchResult> RequestAsync(ConfigServerEndpoint endpoint, string? label, CancellationToken cancellationToken)
    {
        var url = endpoint.EnvironmentUrl(_options.AppName!, _options.Profiles, label);
        var where = label is null ? endpoint.Display : $"{endpoint.Display} (label {label})";
        using var timeout = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("sidecar-agent", AgentIndexApi.Version));
        if (endpoint.Authorization is { } authorization)
        {
            request.Headers.Authorization = authorization;
        }

        if (_options.Token is { } token)
        {
            request.Headers.TryAddWithoutValidation("X-Config-Token", token);
        }

        foreach (var (name, value) in _options.Headers)
        {
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }

        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return ConfigFetchResult.Failure(label, $"{where}: no answer within {DurationParser.Format(_options.Timeout)}", unreachable: true);
        }
        catch (HttpRequestException ex)
        {
            return ConfigFetchResult.Failure(label, $"{where}: {HttpErrors.Describe(ex)}", unreachable: true);
        }

        using (response)
        {
            var code = (int)response.StatusCode;
            if (code != StatusCodes.Status200OK)
            {
                var hint = code switch
                {
                    401 or 403 => " (check the credentials: URL userinfo, AppConfig:Username/Password, AppConfig:Token)",
                    404 when label is not null => $" (label '{label}' not found)",
                    >= 300 and < 400 => " (redirects are not followed: set CONFIG_SERVER_URLS to the final URL)",
                    _ => "",
                };
                return ConfigFetchResult.Failure(label, $"{where}: HTTP {code} {response.ReasonPhrase}{hint}".TrimEnd(), unreachable: false, statusCode: code);
            }

            try
            {
                var body = await ReadBodyAsync(response.Content, linked.Token).ConfigureAwait(false);
                var environment = ConfigServerEnvironment.Parse(body);
                return ConfigFetchResult.Success(endpoint.Display, label, environment);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // An I/O failure, as Spring's ResourceAccessException: the next server is tried whatever the strategy.
                return ConfigFetchResult.Failure(label, $"{where}: the answer did not complete within {DurationParser.Format(_options.Timeout)}", unreachable: true);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                return ConfigFetchResult.Failure(label, $"{where}: the answer was cut short", unreachable: true);
            }
            catch (FormatException ex)
            {
                return ConfigFetchResult.Failure(label, $"{where}: invalid answer: {ex.Message}", unreachable: false);
            }
        }
    }

    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > MaxBodyBytes)
        {
            throw new FormatException($"the answer is larger than {MaxBodyBytes / (1024 * 1024)} MiB");
        }

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > MaxBodyBytes)
                {
                    throw new FormatException($"the answer is larger than {MaxBodyBytes / (1024 * 1024)} MiB");
                }

                buffer.Write(chunk, 0, read);
            }

            return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        }
    }


    [LoggerMessage(EventId = 400, Level = LogLevel.Debug, Message = "Config server failed ({Error}); trying {Next}")]
    private static partial void LogTryingNext(ILogger logger, string error, string next);

    [LoggerMessage(EventId = 401, Level = LogLevel.Debug, Message = "Config label {Label} not found on {Server}; trying label {Next}")]
    private static partial void LogLabelNotFound(ILogger logger, string label, string server, string next);
}

/// <summary>One configured server: its URL without userinfo (safe to log) and the Basic credentials for it.</summary>
internal sealed record ConfigServerEndpoint(Uri BaseUri, string Display, AuthenticationHeaderValue? Authorization)
{
    /// <summary>Spring's default username (<c>spring.cloud.config.username</c>).</summary>
    public const string DefaultUsername = "user";

    /// <summary>
    /// Spring's <c>ConfigClientProperties.getCredentials</c>: the username defaults to <c>user</c>; with
    /// userinfo in the URL, an explicitly set password wins over the URL's, and an explicitly set username
    /// wins unless it is <c>user</c> (the default cannot be told from an explicit <c>user</c>); without a
    /// password there is no Authorization header at all.
    /// </summary>
    public static ConfigServerEndpoint Create(Uri url, AppConfigOptions options)
    {
        var explicitUser = string.IsNullOrWhiteSpace(options.Username) ? DefaultUsername : options.Username.Trim();
        var explicitPassword = string.IsNullOrWhiteSpace(options.Password) ? null : options.Password.Trim();
        string user = explicitUser;
        string? password = explicitPassword;
        if (url.UserInfo is { Length: > 0 } userInfo && userInfo != ":")
        {
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            user = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            password = explicitPassword ?? (colon < 0 ? "" : Uri.UnescapeDataString(userInfo[(colon + 1)..]));
            if (explicitUser != DefaultUsername)
            {
                user = explicitUser;
            }
        }

        var bare = url.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);
        if (!bare.EndsWith('/'))
        {
            bare += "/";
        }

        var authorization = password is null
            ? null
            : new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return new ConfigServerEndpoint(new Uri(bare), bare, authorization);
    }

    /// <summary><c>{base}/{application}/{profiles}[/{label}]</c>, each segment escaped, a <c>/</c> in a label sent as <c>(_)</c>.</summary>
    public Uri EnvironmentUrl(string application, IReadOnlyList<string> profiles, string? label)
    {
        var builder = new StringBuilder(BaseUri.AbsoluteUri);
        builder.Append(Segment(application)).Append('/');
        for (var i = 0; i < profiles.Count; i++)
        {
            builder.Append(i == 0 ? "" : ",").Append(Segment(profiles[i]));
        }

        if (label is not null)
        {
            builder.Append('/').Append(Segment(label.Replace("/", "(_)", StringComparison.Ordinal)));
        }

        return new Uri(builder.ToString());
    }

    // Escapes everything but RFC 3986 unreserved characters, keeping ( and ) readable as Spring writes (_).
    private static string Segment(string value) =>
        Uri.EscapeDataString(value).Replace("%28", "(", StringComparison.Ordinal).Replace("%29", ")", StringComparison.Ordinal);
}

/// <summary>The outcome of one fetch: an environment, or why there is none.</summary>
/// <param name="Unreachable">True when the server gave no complete answer (refused, reset, timed out, cut short): an I/O failure, after which the next URL is tried whatever the strategy.</param>
internal sealed record ConfigFetchResult(string? Server, string? Label, ConfigServerEnvironment? Environment, string? Error, bool Unreachable, int? StatusCode)
{
    [MemberNotNullWhen(true, nameof(Environment), nameof(Server))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool Succeeded => Environment is not null;

    public static ConfigFetchResult Success(string server, string? label, ConfigServerEnvironment environment) =>
        new(server, label, environment, null, false, StatusCodes.Status200OK);

    public static ConfigFetchResult Failure(string? label, string error, bool unreachable, int? statusCode = null) =>
        new(null, label, null, error, unreachable, statusCode);
}

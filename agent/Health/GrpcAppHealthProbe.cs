using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Health;

/// <summary>
/// Probes <c>APP_HEALTH_URL=grpc://host:port[/service]</c> with the standard <c>grpc.health.v1.Health/Check</c> call,
/// as Kubernetes' <c>grpc</c> probe and Envoy do (docs/app-health.md#grpc-checks): HTTP/2 without TLS (prior knowledge),
/// or over TLS for <c>grpcs://</c>. SERVING is healthy; any other status, or a gRPC error, is a failure.
/// </summary>
internal sealed class GrpcAppHealthProbe : IAppHealthProbe, IDisposable
{
    private readonly HttpClient _client;
    private readonly Uri _target;
    private readonly byte[] _request;
    private readonly string _service;
    private readonly string _deadline;
    private readonly TimeProvider _time;

    public GrpcAppHealthProbe(AppHealthOptions options, TimeProvider time)
    {
        var url = options.Url ?? throw new ArgumentException("no health URL", nameof(options));
        _service = ServiceOf(url);
        _target = new Uri($"{(url.Scheme == "grpcs" ? "https" : "http")}://{url.Authority}{GrpcHealthWire.CheckPath}");
        _request = GrpcHealthWire.EncodeRequest(_service);
        // The server may give up when the agent does (grpc-timeout, in milliseconds: "2000m").
        _deadline = ((long)Math.Ceiling(options.Timeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "m";
        _time = time;
        _client = AgentHttpHandler.Client(AgentHttpHandler.Create(options.Timeout, options.Interval + options.Interval)); // the monitor's token carries the probe time-out
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("sidecar-agent-health/1.0");
    }

    /// <summary>True for a <c>grpc://</c> or <c>grpcs://</c> URL.</summary>
    public static bool IsGrpc(Uri url) => url.Scheme is "grpc" or "grpcs";

    /// <summary>The service asked about: the URL's path without its slash; empty (the server as a whole) without one.</summary>
    public static string ServiceOf(Uri url) => Uri.UnescapeDataString(url.AbsolutePath.TrimStart('/'));

    /// <summary>Reads <c>grpc[s]://host:port[/service]</c> from <paramref name="key"/>; a malformed one is an error naming the variable.</summary>
    internal static Uri? ReadUrl(SettingsReader r, string key)
    {
        var value = r.String(key)!;
        if (TryParseUrl(value, out var url))
        {
            return url;
        }

        r.AddError(key, $"'{value}' is not grpc://host:port or grpc://host:port/service (grpcs:// for TLS; nothing else)");
        return null;
    }

    /// <summary>A host, a port and at most one path segment (the service name); no user info, query or fragment.</summary>
    internal static bool TryParseUrl(string value, out Uri uri)
    {
        uri = null!;
        var schemeLength = value.StartsWith("grpc://", StringComparison.OrdinalIgnoreCase) ? "grpc://".Length
            : value.StartsWith("grpcs://", StringComparison.OrdinalIgnoreCase) ? "grpcs://".Length
            : 0;
        if (schemeLength == 0 || !Uri.TryCreate(value, UriKind.Absolute, out var parsed) ||
            parsed.Port is < 1 or > 65535 || parsed.UserInfo.Length > 0 || parsed.Query.Length > 0 || parsed.Fragment.Length > 0 ||
            parsed.HostNameType is not (UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6) || parsed.Host.Contains('%', StringComparison.Ordinal) ||
            ServiceOf(parsed).Contains('/', StringComparison.Ordinal) || value.Contains('?', StringComparison.Ordinal) || value.Contains('#', StringComparison.Ordinal))
        {
            return false;
        }

        // "grpc://host" parses with no port (-1), and "grpc://host:/x" with a default: a gRPC address needs one written.
        var rest = value.AsSpan(schemeLength);
        var slash = rest.IndexOf('/');
        var authority = slash < 0 ? rest : rest[..slash];
        var colon = authority.LastIndexOf(':');
        if (colon < 0 || colon == authority.Length - 1 || authority[(colon + 1)..].ContainsAnyExceptInRange('0', '9'))
        {
            return false;
        }

        uri = parsed;
        return true;
    }

    public async Task<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _target)
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact, // h2c with prior knowledge: gRPC has no HTTP/1.1 form
                Content = new ByteArrayContent(_request),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
            request.Headers.TE.ParseAdd("trailers");
            request.Headers.TryAddWithoutValidation("grpc-timeout", _deadline);
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var code = (int)response.StatusCode;
            var body = await ReadAllAsync(response.Content, cancellationToken).ConfigureAwait(false);
            if (body is null)
            {
                return ProbeResult.Failure($"an answer larger than {GrpcHealthWire.MaxAnswerBytes / 1024} KiB, not a HealthCheckResponse", _time.GetElapsedTime(started), code);
            }

            // The trailers arrive after the body; a trailers-only answer (an error at once) carries them as headers.
            var status = Header(response.TrailingHeaders, "grpc-status") ?? Header(response.Headers, "grpc-status");
            var message = Header(response.TrailingHeaders, "grpc-message") ?? Header(response.Headers, "grpc-message");
            var (healthy, detail) = GrpcHealthWire.Judge(code, status, message, body, _service);
            return new ProbeResult(healthy, null, code, detail, _time.GetElapsedTime(started));
        }
        catch (HttpRequestException ex)
        {
            var detail = HttpErrors.Describe(ex);
            if (ex.HttpRequestError == HttpRequestError.HttpProtocolError || detail == "connection closed before an answer")
            {
                detail += " (does the port speak HTTP/2, as gRPC does?)";
            }

            return ProbeResult.Failure(detail, _time.GetElapsedTime(started), (int?)ex.StatusCode);
        }
        catch (IOException ex)
        {
            return ProbeResult.Failure("connection broken: " + ex.Message, _time.GetElapsedTime(started));
        }
    }

    public void Dispose() => _client.Dispose();

    private static string? Header(HttpHeaders headers, string name) =>
        headers.NonValidated.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    /// <summary>The whole body (read to its end, so that the trailers arrive); null when larger than <see cref="GrpcHealthWire.MaxAnswerBytes"/>.</summary>
    private static async Task<byte[]?> ReadAllAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[256];
            var total = 0;
            int read;
            while ((read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += read;
                if (total > GrpcHealthWire.MaxAnswerBytes)
                {
                    return null;
                }

                if (total == buffer.Length)
                {
                    Array.Resize(ref buffer, Math.Min(buffer.Length * 2, GrpcHealthWire.MaxAnswerBytes + 1));
                }
            }

            return buffer[..total];
        }
    }
}

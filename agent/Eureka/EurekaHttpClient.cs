using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Sidecar.Configuration;
using Sidecar.Platform;

namespace Sidecar.Eureka;

/// <summary>
/// The Eureka REST client shared by registration and discovery: one <see cref="HttpClient"/> over
/// one <see cref="SocketsHttpHandler"/>, reused for the agent's lifetime. Every request sends
/// <c>Accept: application/json</c> (servers answer XML otherwise) and URL-encodes ids.
/// Failover follows Netflix's RetryableEurekaHttpClient (docs/eureka.md#timing-and-failover):
/// the last server that answered is tried first; then the others in this agent's order
/// (<see cref="EurekaServerOrder"/>: own zone first, shuffled per instance), skipping quarantined ones
/// until about two thirds have failed; at most 3 attempts, each on another server. As Netflix's
/// <c>SessionedEurekaHttpClient</c>, a session ends after <see cref="EurekaOptions.SessionReconnectInterval"/>
/// (±50%): the agent forgets the server it settled on and starts over from its own first, so a failover
/// does not pin a fleet to one node for ever.
/// </summary>
internal sealed partial class EurekaHttpClient : IDisposable
{
    private const int MaxAttempts = 3;
    private const double QuarantineRefreshShare = 0.66;
    private const int MaxBodyBytes = 64 * 1024 * 1024;

    private readonly EurekaEndpoint[] _endpoints;
    private readonly HttpClient _http;
    private readonly TimeSpan _readTimeout;
    private readonly ILogger<EurekaHttpClient> _logger;
    private readonly HashSet<EurekaEndpoint> _quarantine = [];
    private readonly Lock _lock = new();
    private readonly EurekaMetrics? _metrics;
    private readonly TimeProvider _time;
    private readonly TimeSpan _sessionInterval;
    private EurekaEndpoint? _current;
    private DateTimeOffset _sessionEndsAt;

    public EurekaHttpClient(EurekaOptions options, LocalInstance instance, TimeProvider time, ILogger<EurekaHttpClient> logger, EurekaMetrics? metrics = null)
        : this(options, logger, null, metrics, time, instance.IpAddress)
    {
    }

    internal EurekaHttpClient(EurekaOptions options, ILogger<EurekaHttpClient> logger, HttpMessageHandler? handler, EurekaMetrics? metrics = null, TimeProvider? time = null, string seed = "")
    {
        _metrics = metrics;
        _endpoints = [.. EurekaServerOrder.Resolve(options, seed).Select(EurekaEndpoint.From)];
        _time = time ?? TimeProvider.System;
        _sessionInterval = options.SessionReconnectInterval;
        _sessionEndsAt = _time.GetUtcNow() + SessionDuration();
        _readTimeout = options.ReadTimeout;
        _logger = logger;
        if (handler is null)
        {
            // The idle time-out outlives the 30 s heartbeat, so one connection serves them all.
            var sockets = AgentHttpHandler.Create(options.ConnectTimeout, TimeSpan.FromMinutes(2));
            sockets.AutomaticDecompression = DecompressionMethods.GZip; // sends Accept-Encoding: gzip, which Eureka honours
            handler = sockets;
        }

        _http = AgentHttpHandler.Client(handler); // the per-attempt read time-out is ours (see SendOnceAsync)
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("sidecar-agent", Platform.AgentIndexApi.Version));
    }

    public IReadOnlyList<EurekaEndpoint> Endpoints => _endpoints;

    /// <summary>The server the last accepted answer came from (tried first next time); null before the first.</summary>
    public EurekaEndpoint? Current
    {
        get
        {
            lock (_lock)
            {
                return _current;
            }
        }
    }

    public Task<EurekaResponse> RegisterAsync(EurekaInstanceInfo instance, CancellationToken cancellationToken) =>
        SendAsync(EurekaOperation.Register, HttpMethod.Post, $"apps/{Segment(instance.App)}", EurekaJsonWriter.InstanceBody(instance), cancellationToken);

    public Task<EurekaResponse> RenewAsync(string app, string instanceId, InstanceStatus status, long lastDirtyTimestamp, CancellationToken cancellationToken) =>
        SendAsync(EurekaOperation.Renew, HttpMethod.Put,
            $"apps/{Segment(app)}/{Segment(instanceId)}?status={status.ToWire()}&lastDirtyTimestamp={Number(lastDirtyTimestamp)}", null, cancellationToken);

    public Task<EurekaResponse> CancelAsync(string app, string instanceId, CancellationToken cancellationToken) =>
        SendAsync(EurekaOperation.Cancel, HttpMethod.Delete, $"apps/{Segment(app)}/{Segment(instanceId)}", null, cancellationToken);

    /// <summary>The override API: the server keeps <paramref name="status"/> until the override is removed, whatever the client registers.</summary>
    public Task<EurekaResponse> UpdateStatusAsync(string app, string instanceId, InstanceStatus status, long lastDirtyTimestamp, CancellationToken cancellationToken) =>
        SendAsync(EurekaOperation.StatusUpdate, HttpMethod.Put,
            $"apps/{Segment(app)}/{Segment(instanceId)}/status?value={status.ToWire()}&lastDirtyTimestamp={Number(lastDirtyTimestamp)}", null, cancellationToken);

    /// <summary>Removes the override and sets <paramref name="status"/> (without a value the server would set UNKNOWN and fail the next renew).</summary>
    public Task<EurekaResponse> DeleteStatusOverrideAsync(string app, string instanceId, InstanceStatus status, long lastDirtyTimestamp, CancellationToken cancellationToken) =>
        SendAsync(EurekaOperation.DeleteStatusOverride, HttpMethod.Delete,
            $"apps/{Segment(app)}/{Segment(instanceId)}/status?value={status.ToWire()}&lastDirtyTimestamp={Number(lastDirtyTimestamp)}", null, cancellationToken);

    /// <summary>One instance as the server holds it, <c>{"instance":{...}}</c>, with the override it keeps (<c>overriddenStatus</c>).</summary>
    public Task<EurekaResponse> GetInstanceAsync(string app, string instanceId, CancellationToken cancellationToken) =>
        SendAsync(EurekaOperation.GetInstance, HttpMethod.Get, $"apps/{Segment(app)}/{Segment(instanceId)}", null, cancellationToken);

    public Task<EurekaResponse> GetApplicationsAsync(CancellationToken cancellationToken) =>
        SendAsync(EurekaOperation.GetApplications, HttpMethod.Get, "apps/", null, cancellationToken);

    public Task<EurekaResponse> GetDeltaAsync(CancellationToken cancellationToken) =>
        SendAsync(EurekaOperation.GetDelta, HttpMethod.Get, "apps/delta", null, cancellationToken);

    public void Dispose() => _http.Dispose();

    /// <summary>
    /// Netflix's legacy server status evaluator: which answers end the failover. 2xx always; 404 for
    /// register, renew, the status calls and reading an instance back (the lease is unknown: the caller
    /// registers again); any answer to a cancel (best effort); 403/404 to a delta (delta disabled: the caller fetches in full). Anything else,
    /// 5xx in particular, and every connection error, moves on to the next server.
    /// </summary>
    internal static bool IsAccepted(EurekaOperation operation, int statusCode) => statusCode switch
    {
        >= 200 and < 300 => true,
        404 when operation is EurekaOperation.Register or EurekaOperation.Renew or EurekaOperation.StatusUpdate or EurekaOperation.DeleteStatusOverride or EurekaOperation.GetInstance => true,
        _ when operation == EurekaOperation.Cancel => true,
        403 or 404 when operation == EurekaOperation.GetDelta => true,
        _ => false,
    };

    private async Task<EurekaResponse> SendAsync(EurekaOperation operation, HttpMethod method, string relative, byte[]? body, CancellationToken cancellationToken)
    {
        var response = await SendWithFailoverAsync(operation, method, relative, body, cancellationToken).ConfigureAwait(false);
        _metrics?.Completed(operation, response);
        return response;
    }

    private async Task<EurekaResponse> SendWithFailoverAsync(EurekaOperation operation, HttpMethod method, string relative, byte[]? body, CancellationToken cancellationToken)
    {
        var candidates = Candidates();
        EurekaResponse? last = null;
        for (var attempt = 0; attempt < MaxAttempts && attempt < candidates.Count; attempt++)
        {
            var endpoint = candidates[attempt];
            var response = await SendOnceAsync(endpoint, operation, method, relative, body, cancellationToken).ConfigureAwait(false);
            if (response.Accepted)
            {
                lock (_lock)
                {
                    _current = endpoint;
                }

                return response;
            }

            lock (_lock)
            {
                _quarantine.Add(endpoint);
                if (_current == endpoint)
                {
                    _current = null;
                }
            }

            var next = attempt + 1 < MaxAttempts && attempt + 1 < candidates.Count ? candidates[attempt + 1].Display : null;
            LogAttemptFailed(_logger, operation, endpoint.Display, response.Describe(), next ?? "none left");
            last = response;
        }

        return last ?? new EurekaResponse(false, 0, null, [], "no Eureka server configured");
    }

    // The sticky server first, then the others in order without the quarantined ones (all of them once too many failed).
    private List<EurekaEndpoint> Candidates()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (now >= _sessionEndsAt)
            {
                if (_current is not null && _current != _endpoints[0])
                {
                    LogSessionEnded(_logger, _current.Display, _endpoints[0].Display);
                }

                _current = null;
                _quarantine.Clear();
                _sessionEndsAt = now + SessionDuration();
            }

            var threshold = Math.Min(_endpoints.Length, (int)(_endpoints.Length * QuarantineRefreshShare));
            if (_quarantine.Count > 0 && _quarantine.Count >= threshold)
            {
                _quarantine.Clear();
            }

            var candidates = new List<EurekaEndpoint>(_endpoints.Length);
            if (_current is not null)
            {
                candidates.Add(_current);
            }

            foreach (var endpoint in _endpoints)
            {
                if (endpoint != _current && !_quarantine.Contains(endpoint))
                {
                    candidates.Add(endpoint);
                }
            }

            return candidates;
        }
    }

    private async Task<EurekaResponse> SendOnceAsync(EurekaEndpoint endpoint, EurekaOperation operation, HttpMethod method, string relative, byte[]? body, CancellationToken cancellationToken)
    {
        // Real time, not the injected clock: this bounds real I/O. Netflix's read time-out is the socket's
        // (SO_TIMEOUT): the longest wait for the next bytes, not for the whole answer, so it is re-armed
        // before each read of the body and a large registry that keeps flowing is never cut off.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_readTimeout);
        using var request = new HttpRequestMessage(method, new Uri(endpoint.BaseUri.AbsoluteUri + relative));
        request.Headers.Authorization = endpoint.Authorization;
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            var code = (int)response.StatusCode;
            if (!IsAccepted(operation, code))
            {
                return new EurekaResponse(false, code, endpoint, [], $"{code} {response.ReasonPhrase}".TrimEnd());
            }

            var content = operation is EurekaOperation.GetApplications or EurekaOperation.GetDelta or EurekaOperation.GetInstance && code == 200
                ? await ReadBodyAsync(response.Content, timeout, _readTimeout).ConfigureAwait(false)
                : [];
            return new EurekaResponse(true, code, endpoint, content, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new EurekaResponse(false, 0, endpoint, [], $"nothing received for {DurationParser.Format(_readTimeout)}");
        }
        catch (HttpRequestException ex)
        {
            return new EurekaResponse(false, (int?)ex.StatusCode ?? 0, endpoint, [], HttpErrors.Describe(ex));
        }
        catch (IOException ex)
        {
            return new EurekaResponse(false, 0, endpoint, [], "connection broken: " + ex.Message);
        }
        catch (InvalidDataException ex)
        {
            return new EurekaResponse(false, 0, endpoint, [], "invalid answer: " + ex.Message);
        }
    }

    private static async Task<byte[]> ReadBodyAsync(HttpContent content, CancellationTokenSource timeout, TimeSpan readTimeout)
    {
        if (content.Headers.ContentLength > MaxBodyBytes)
        {
            throw new InvalidDataException($"registry answer larger than {MaxBodyBytes} bytes");
        }

        var stream = await content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var body = new MemoryStream();
            var chunk = new byte[16 * 1024];
            while (true)
            {
                timeout.CancelAfter(readTimeout); // the inactivity time-out starts again with each read
                var read = await stream.ReadAsync(chunk, timeout.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return body.ToArray();
                }

                if (body.Length + read > MaxBodyBytes)
                {
                    throw new InvalidDataException($"registry answer larger than {MaxBodyBytes} bytes");
                }

                body.Write(chunk, 0, read);
            }
        }
    }

    // Netflix: the session length plus or minus up to half of it, drawn anew for each session.
    private TimeSpan SessionDuration() => _sessionInterval * (0.5 + Random.Shared.NextDouble());

    // Ids are path segments: "host:app:8080" travels as "host%3Aapp%3A8080" (docs/eureka.md#base-url-and-requests).
    private static string Segment(string value) => Uri.EscapeDataString(value);

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);


    [LoggerMessage(EventId = 230, Level = LogLevel.Information, Message = "Eureka session ended: leaving {Server}, starting over from {First}")]
    private static partial void LogSessionEnded(ILogger logger, string server, string first);

    [LoggerMessage(EventId = 200, Level = LogLevel.Warning, Message = "Eureka {Operation} failed on {Server}: {Error}; next server: {Next}")]
    private static partial void LogAttemptFailed(ILogger logger, EurekaOperation operation, string server, string error, string next);
}

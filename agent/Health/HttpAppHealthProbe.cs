using System.Buffers;
using System.Text.Json;
using Sidecar.Eureka;
using Sidecar.Platform;

namespace Sidecar.Health;

/// <summary>
/// Probes <c>APP_HEALTH_URL</c> with a GET. Any 2xx is healthy; a JSON body with a <c>status</c>
/// (<c>"UP"</c>, <c>"DOWN"</c>, <c>"OUT_OF_SERVICE"</c>, or <c>{"status":{"code":..}}</c>) is honoured,
/// as Spring Boot's actuator and the Netflix health checks declare it (docs/app-health.md).
/// </summary>
internal sealed class HttpAppHealthProbe : IAppHealthProbe, IDisposable
{
    // Health bodies are small; reading more would let a broken app make the agent buffer megabytes.
    private const int MaxBodyBytes = 64 * 1024;

    private readonly HttpClient _client;
    private readonly Uri _url;
    private readonly TimeProvider _time;

    public HttpAppHealthProbe(AppHealthOptions options, TimeProvider time)
    {
        _url = options.Url ?? throw new ArgumentException("no health URL", nameof(options));
        _time = time;
        _client = AgentHttpHandler.Client(AgentHttpHandler.Create(options.Timeout, options.Interval + options.Interval)); // the monitor's token carries the probe time-out
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("sidecar-agent-health/1.0");
        _client.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        _client.DefaultRequestHeaders.Accept.ParseAdd("*/*;q=0.5");
    }

    public async Task<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            using var response = await _client.GetAsync(_url, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var code = (int)response.StatusCode;
            var buffer = ArrayPool<byte>.Shared.Rent(MaxBodyBytes);
            InstanceStatus? reported;
            try
            {
                var length = await ReadPrefixAsync(response.Content, buffer, cancellationToken).ConfigureAwait(false);
                reported = ReadDeclaredStatus(buffer.AsSpan(0, length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            var elapsed = _time.GetElapsedTime(started);
            var detail = $"{code} {response.ReasonPhrase}".TrimEnd();
            if (reported is { } declared)
            {
                detail += $" status {declared.ToWire()}";
            }

            var success = code is >= 200 and < 300;
            var healthy = success && reported is null or InstanceStatus.Up;
            return new ProbeResult(healthy, reported, code, detail, elapsed);
        }
        catch (HttpRequestException ex)
        {
            return ProbeResult.Failure(HttpErrors.Describe(ex), _time.GetElapsedTime(started), (int?)ex.StatusCode);
        }
        catch (IOException ex)
        {
            return ProbeResult.Failure("connection broken: " + ex.Message, _time.GetElapsedTime(started));
        }
    }

    public void Dispose() => _client.Dispose();

    /// <summary>Reads the <c>status</c> a JSON health body declares; null when there is none or it is not one we know.</summary>
    internal static InstanceStatus? ReadDeclaredStatus(ReadOnlySpan<byte> body)
    {
        var start = 0;
        while (start < body.Length && body[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            start++;
        }

        if (start == body.Length || body[start] != (byte)'{')
        {
            return null;
        }

        try
        {
            var reader = new Utf8JsonReader(body[start..], new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            reader.Read(); // StartObject
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isStatus = reader.ValueTextEquals("status"u8);
                reader.Read();
                if (!isStatus)
                {
                    reader.Skip();
                    continue;
                }

                if (reader.TokenType == JsonTokenType.String)
                {
                    return Known(reader.GetString());
                }

                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    // {"status":{"code":"UP","description":".."}}
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isCode = reader.ValueTextEquals("code"u8);
                        reader.Read();
                        if (isCode && reader.TokenType == JsonTokenType.String)
                        {
                            return Known(reader.GetString());
                        }

                        reader.Skip();
                    }
                }

                return null;
            }
        }
        catch (JsonException)
        {
            // A truncated or invalid body: judge by the status code alone.
        }

        return null;
    }

    // UNKNOWN (Spring Boot's default for an empty indicator set) and foreign words declare nothing.
    private static InstanceStatus? Known(string? text) =>
        InstanceStatusNames.TryParse(text, out var status) && status != InstanceStatus.Unknown ? status : null;

    private static async Task<int> ReadPrefixAsync(HttpContent content, byte[] buffer, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var limit = Math.Min(buffer.Length, MaxBodyBytes);
            var total = 0;
            int read;
            while (total < limit && (read = await stream.ReadAsync(buffer.AsMemory(total, limit - total), cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += read;
            }

            return total;
        }
    }

}

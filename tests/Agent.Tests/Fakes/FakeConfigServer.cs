using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Fakes;

/// <summary>How the fake spoils a 200 answer's body.</summary>
public enum FakeConfigBody
{
    /// <summary>A proper environment.</summary>
    Normal,

    /// <summary>An HTML error page with status 200 (a misrouted proxy).</summary>
    Html,

    /// <summary>JSON that stops half-way (the connection ends properly).</summary>
    BrokenJson,

    /// <summary>A Content-Length larger than what is sent, then the connection is aborted.</summary>
    Truncated,

    /// <summary>Valid JSON that is not an environment (<c>propertySources</c> is an object).</summary>
    NotAnEnvironment,

    /// <summary>Random bytes labelled <c>application/json</c>.</summary>
    Binary,
}

/// <summary>
/// A Spring Cloud Config Server on 127.0.0.1 as strict as the real one
/// (docs/config-server.md#what-the-fake-config-server-reproduces): <c>GET /{application}/{profiles}[/{label}]</c>, profile lists (later profiles first),
/// <c>(_)</c> in labels, first-wins ordering (<c>{app}-{profile}</c>, <c>application-{profile}</c>, then
/// <c>{app}</c>, <c>application</c>), empty sources for an unknown app, 404 for an unknown label,
/// 400 for an invalid name, Basic auth and <c>X-Config-Token</c> when enabled. Tests switch on outages
/// (the port stops listening, and comes back on the same port), slowness, error statuses, spoiled
/// bodies, and edit the properties and version live.
/// </summary>
public sealed class FakeConfigServer : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Label, string Name), Dictionary<string, object?>> _documents = [];
    private readonly HashSet<string> _labels = new(StringComparer.Ordinal);
    private readonly List<FakeConfigRequest> _requests = [];
    private LoopbackServer? _server;
    private string _defaultLabel = "main";

    private FakeConfigServer(int port)
    {
        Port = port;
        _labels.Add(_defaultLabel);
    }

    public int Port { get; private set; }

    /// <summary><c>http://127.0.0.1:{port}/</c>.</summary>
    public Uri BaseUri => new($"http://127.0.0.1:{Port}/");

    /// <summary>The backend revision returned as <c>version</c> (null is allowed, as with a native backend).</summary>
    public string? Version { get; set; } = "rev-1";

    /// <summary>The label used when a request names none (the server's default branch).</summary>
    public string DefaultLabel
    {
        get => _defaultLabel;
        set
        {
            lock (_lock)
            {
                _defaultLabel = value;
                _labels.Add(value);
            }
        }
    }

    /// <summary>When set, requests without these Basic credentials get 401.</summary>
    public (string User, string Password)? BasicAuth { get; set; }

    /// <summary>When set, requests must carry this <c>X-Config-Token</c>: 400 when missing, 403 when wrong (as the Vault backend).</summary>
    public string? RequiredToken { get; set; }

    /// <summary>Waits this long before answering.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>When set, every environment request is answered with this status (500: a backend failure).</summary>
    public int? FailWithStatus { get; set; }

    public FakeConfigBody Body { get; set; } = FakeConfigBody.Normal;

    /// <summary>
    /// Plays a server whose encrypt key does not fit its <c>{cipher}</c> values: as Spring Cloud Config
    /// Server's <c>CipherEnvironmentEncryptor</c>, each such key is served renamed <c>invalid.{key}</c> with
    /// the value <c>&lt;n/a&gt;</c>. Off (the default), <c>{cipher}</c> values pass through as a server
    /// without a key (or with server-side decryption off) serves them.
    /// </summary>
    public bool CannotDecrypt { get; set; }

    /// <summary>Wraps values as the v2 media type does: <c>{"value":..,"origin":..}</c>.</summary>
    public bool V2Values { get; set; }

    public bool IsRunning => _server is not null;

    public IReadOnlyList<FakeConfigRequest> Requests
    {
        get
        {
            lock (_lock)
            {
                return [.. _requests];
            }
        }
    }

    public static async Task<FakeConfigServer> StartAsync()
    {
        var fake = new FakeConfigServer(0);
        await fake.RestartAsync();
        return fake;
    }

    /// <summary>Sets the properties of one config file: <paramref name="name"/> is <c>{app}</c>, <c>{app}-{profile}</c>, <c>application</c> or <c>application-{profile}</c>.</summary>
    public void Set(string name, IDictionary<string, object?> properties, string? label = null)
    {
        lock (_lock)
        {
            label ??= _defaultLabel;
            _labels.Add(label);
            _documents[(label, name)] = new Dictionary<string, object?>(properties, StringComparer.Ordinal);
        }
    }

    /// <summary>Changes one property of an existing file (adds the file if needed).</summary>
    public void SetProperty(string name, string key, object? value, string? label = null)
    {
        lock (_lock)
        {
            label ??= _defaultLabel;
            _labels.Add(label);
            if (!_documents.TryGetValue((label, name), out var properties))
            {
                _documents[(label, name)] = properties = new Dictionary<string, object?>(StringComparer.Ordinal);
            }

            properties[key] = value;
        }
    }

    public void Remove(string name, string? label = null)
    {
        lock (_lock)
        {
            _documents.Remove((label ?? _defaultLabel, name));
        }
    }

    public void AddLabel(string label)
    {
        lock (_lock)
        {
            _labels.Add(label);
        }
    }

    public void ClearRequests()
    {
        lock (_lock)
        {
            _requests.Clear();
        }
    }

    /// <summary>Stops listening: connections are refused until <see cref="RestartAsync"/>.</summary>
    public async Task StopAsync()
    {
        var server = Interlocked.Exchange(ref _server, null);
        if (server is not null)
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>Listens again, on the same port.</summary>
    public async Task RestartAsync()
    {
        if (_server is not null)
        {
            return;
        }

        _server = await LoopbackServer.StartAsync(HandleAsync, Port);
        Port = _server.Port;
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        lock (_lock)
        {
            _requests.Add(new FakeConfigRequest(
                request.Method,
                request.Path.ToUriComponent(),
                request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
        }

        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, context.RequestAborted);
        }

        if (!HttpMethods.IsGet(request.Method))
        {
            await ErrorAsync(context, 405, "Method Not Allowed", "only GET");
            return;
        }

        if (!Authorized(context, out var status, out var message))
        {
            if (status == 401)
            {
                context.Response.Headers.WWWAuthenticate = "Basic realm=\"config\"";
            }

            await ErrorAsync(context, status, status == 401 ? "Unauthorized" : status == 403 ? "Forbidden" : "Bad Request", message);
            return;
        }

        // Raw segments: each one is decoded on its own, so an escaped '/' or ',' never splits a segment.
        var segments = (request.Path.ToUriComponent()).Trim('/').Split('/');
        if (segments.Length is < 2 or > 3 || segments.Any(s => s.Length == 0))
        {
            await ErrorAsync(context, 404, "Not Found", "no such route");
            return;
        }

        var application = Uri.UnescapeDataString(segments[0]);
        var profiles = segments[1].Split(',').Select(Uri.UnescapeDataString).ToArray();
        var label = segments.Length == 3 ? Uri.UnescapeDataString(segments[2]).Replace("(_)", "/", StringComparison.Ordinal) : null;
        if (!IsValidName(application) || profiles.Any(p => !IsValidName(p)) || (label is not null && !IsValidName(label.Replace("/", "", StringComparison.Ordinal))))
        {
            await ErrorAsync(context, 400, "Bad Request", "Invalid name, profile or label");
            return;
        }

        if (FailWithStatus is { } failure)
        {
            await ErrorAsync(context, failure, "Internal Server Error", "backend failure");
            return;
        }

        byte[] body;
        lock (_lock)
        {
            label ??= _defaultLabel;
            if (!_labels.Contains(label))
            {
                body = [];
            }
            else
            {
                body = Environment(application, profiles, label);
            }
        }

        if (body.Length == 0)
        {
            await ErrorAsync(context, 404, "Not Found", $"No such label: {label}");
            return;
        }

        switch (Body)
        {
            case FakeConfigBody.Html:
                context.Response.ContentType = "text/html";
                await context.Response.WriteAsync("<html><body><h1>Whitelabel Error Page</h1></body></html>");
                return;
            case FakeConfigBody.BrokenJson:
                context.Response.ContentType = "application/json";
                await context.Response.Body.WriteAsync(body.AsMemory(0, body.Length / 2));
                return;
            case FakeConfigBody.Truncated:
                context.Response.ContentType = "application/json";
                context.Response.ContentLength = body.Length;
                await context.Response.Body.WriteAsync(body.AsMemory(0, body.Length / 2));
                await context.Response.Body.FlushAsync();

                // Let the client read the status line and the first half before the connection is reset.
                await Task.Delay(200);
                context.Abort();
                return;
            case FakeConfigBody.NotAnEnvironment:
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("""{"name":"orders","profiles":["default"],"propertySources":{"source":{"a":"b"}}}""");
                return;
            case FakeConfigBody.Binary:
                context.Response.ContentType = "application/json";
                var noise = new byte[4096];
                new Random(4).NextBytes(noise);
                await context.Response.Body.WriteAsync(noise);
                return;
            default:
                context.Response.ContentType = "application/json";
                await context.Response.Body.WriteAsync(body);
                return;
        }
    }

    private bool Authorized(HttpContext context, out int status, out string message)
    {
        status = 200;
        message = "";
        if (BasicAuth is { } basic)
        {
            var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{basic.User}:{basic.Password}"));
            if (!string.Equals(context.Request.Headers.Authorization.ToString(), expected, StringComparison.Ordinal))
            {
                status = 401;
                message = "Full authentication is required to access this resource";
                return false;
            }
        }

        if (RequiredToken is { } token)
        {
            var sent = context.Request.Headers["X-Config-Token"].ToString();
            if (sent.Length == 0)
            {
                status = 400;
                message = "Missing required header: X-Config-Token";
                return false;
            }

            if (!string.Equals(sent, token, StringComparison.Ordinal))
            {
                status = 403;
                message = "permission denied";
                return false;
            }
        }

        return true;
    }

    // Must be called under _lock.
    private byte[] Environment(string application, string[] profiles, string label)
    {
        var names = new List<string>();
        var knownApp = _documents.Keys.Any(k => k.Label == label && (k.Name == application || k.Name.StartsWith(application + "-", StringComparison.Ordinal)));
        if (knownApp)
        {
            // Spring: the last profile wins, so it comes first; profile-specific before plain; the app before application.
            for (var i = profiles.Length - 1; i >= 0; i--)
            {
                names.Add($"{application}-{profiles[i]}");
                names.Add($"application-{profiles[i]}");
            }

            names.Add(application);
            names.Add("application");
        }

        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("name", application);
            writer.WriteStartArray("profiles");
            foreach (var profile in profiles)
            {
                writer.WriteStringValue(profile);
            }

            writer.WriteEndArray();
            writer.WriteString("label", label);
            writer.WriteString("version", Version);
            writer.WriteNull("state");
            writer.WriteStartArray("propertySources");
            foreach (var name in names)
            {
                if (!_documents.TryGetValue((label, name), out var properties))
                {
                    continue;
                }

                writer.WriteStartObject();
                writer.WriteString("name", $"git:{label}:{name}.yml");
                writer.WriteStartObject("source");
                foreach (var (key, value) in properties)
                {
                    if (CannotDecrypt && value is string text && text.StartsWith("{cipher}", StringComparison.Ordinal))
                    {
                        writer.WriteString("invalid." + key, "<n/a>");
                        continue;
                    }

                    writer.WritePropertyName(key);
                    if (V2Values)
                    {
                        writer.WriteStartObject();
                        writer.WritePropertyName("value");
                        WriteValue(writer, value);
                        writer.WriteString("origin", $"{name}.yml:1:1");
                        writer.WriteEndObject();
                    }
                    else
                    {
                        WriteValue(writer, value);
                    }
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }

    private static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            case bool b: writer.WriteBooleanValue(b); break;
            case int i: writer.WriteNumberValue(i); break;
            case long l: writer.WriteNumberValue(l); break;
            case double d: writer.WriteNumberValue(d); break;
            default: writer.WriteStringValue(value.ToString()); break;
        }
    }

    private static bool IsValidName(string name) =>
        name.Length > 0 && !name.Contains("..", StringComparison.Ordinal) &&
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static Task ErrorAsync(HttpContext context, int status, string error, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(
            $$"""{"timestamp":"2026-01-01T00:00:00.000+00:00","status":{{status}},"error":"{{error}}","message":{{JsonSerializer.Serialize(message)}},"path":"{{context.Request.Path}}"}""");
    }
}

/// <summary>What the fake received.</summary>
public sealed record FakeConfigRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers);

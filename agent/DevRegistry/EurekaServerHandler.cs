using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Sidecar.Eureka;

namespace Sidecar.DevRegistry;

/// <summary>
/// Eureka's REST API over <see cref="EurekaServerRegistry"/>, as one request delegate so it can be
/// hosted by the <c>agent registry</c> command or by a test's loopback server. Strict like a real
/// server (docs/eureka.md#server-rules-dev-registry-and-fake): XML unless <c>Accept</c> names JSON (or 406 with
/// <see cref="RefuseXml"/>), gzip when <c>Accept-Encoding</c> allows it, a JSON register body or 415,
/// 204 on register, 404 for unknown leases, <c>apps</c> and <c>apps/</c> both, ids URL-decoded from the raw path,
/// and <c>instances/{id}</c> (an instance by id alone, as Netflix's <c>InstancesResource</c>).
/// </summary>
internal sealed partial class EurekaServerHandler(EurekaServerRegistry registry, ILogger? logger = null)
{
    private const int MaxBodyBytes = 1024 * 1024;

    /// <summary>Where the API lives; Spring Cloud's server answers under <c>/eureka/</c>.</summary>
    public string BasePath { get; init; } = "/eureka/";

    /// <summary>Answer 406 to a GET that does not accept JSON, instead of XML (a test switch: proves the client asks for JSON).</summary>
    public bool RefuseXml { get; set; }

    /// <summary>Write one-item lists as bare objects, as older servers do (a test switch).</summary>
    public bool SingleObjectJson { get; set; }

    /// <summary>Answer deltas with 403, as a server with deltas disabled does (a test switch).</summary>
    public bool DeltaDisabled { get; set; }

    public EurekaServerRegistry Registry => registry;

    public async Task HandleAsync(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? raw : raw[..query];
        if (!path.StartsWith(BasePath, StringComparison.OrdinalIgnoreCase) && !string.Equals(path + "/", BasePath, StringComparison.OrdinalIgnoreCase))
        {
            await Text(context, 404, "Not Found").ConfigureAwait(false);
            return;
        }

        // Segments of the raw path, each decoded once: "host%3Aapp%3A8080" and "host:app:8080" are the same id.
        var rest = path.Length > BasePath.Length ? path[BasePath.Length..] : "";
        var segments = rest.Split('/').Select(Uri.UnescapeDataString).ToArray();
        if (segments.Length > 1 && segments[^1].Length == 0)
        {
            segments = segments[..^1]; // "apps/" is "apps"
        }

        var method = context.Request.Method;
        switch (segments)
        {
            case ["apps"] when HttpMethods.IsGet(method):
                await Applications(context, registry.GetApplications()).ConfigureAwait(false);
                break;
            case ["apps", "delta"] when HttpMethods.IsGet(method):
                if (DeltaDisabled)
                {
                    await Text(context, 403, "Forbidden").ConfigureAwait(false);
                    break;
                }

                await Applications(context, registry.GetDelta()).ConfigureAwait(false);
                break;
            case ["apps", var app] when HttpMethods.IsPost(method):
                await RegisterAsync(context, app).ConfigureAwait(false);
                break;
            case ["apps", var app] when HttpMethods.IsGet(method):
                await Application(context, registry.GetApplication(app)).ConfigureAwait(false);
                break;
            case ["apps", var app, var id] when HttpMethods.IsPut(method):
                await Status(context, registry.Renew(app, id, Long(context, "lastDirtyTimestamp")), "renew", app, id).ConfigureAwait(false);
                break;
            case ["apps", var app, var id] when HttpMethods.IsDelete(method):
                await Status(context, registry.Cancel(app, id), "cancel", app, id).ConfigureAwait(false);
                break;
            case ["apps", var app, var id] when HttpMethods.IsGet(method):
                await Instance(context, registry.GetInstance(app, id)).ConfigureAwait(false);
                break;
            case ["apps", var app, var id, "status"] when HttpMethods.IsPut(method):
                await Status(context, registry.UpdateStatus(app, id, context.Request.Query["value"], Long(context, "lastDirtyTimestamp")), "status override", app, id).ConfigureAwait(false);
                break;
            case ["apps", var app, var id, "status"] when HttpMethods.IsDelete(method):
                await Status(context, registry.DeleteStatusOverride(app, id, context.Request.Query["value"], Long(context, "lastDirtyTimestamp")), "override removal", app, id).ConfigureAwait(false);
                break;
            case ["apps", var app, var id, "metadata"] when HttpMethods.IsPut(method):
                var metadata = context.Request.Query.Select(q => new KeyValuePair<string, string>(q.Key, q.Value.ToString()));
                await Status(context, registry.UpdateMetadata(app, id, metadata), "metadata", app, id).ConfigureAwait(false);
                break;
            case ["instances", var id] when HttpMethods.IsGet(method):
                await Instance(context, registry.GetInstanceById(id)).ConfigureAwait(false);
                break;
            case ["vips", var vip] when HttpMethods.IsGet(method):
                await Applications(context, registry.GetByVip(vip, secure: false)).ConfigureAwait(false);
                break;
            case ["svips", var svip] when HttpMethods.IsGet(method):
                await Applications(context, registry.GetByVip(svip, secure: true)).ConfigureAwait(false);
                break;
            case ["apps", ..] or ["vips", ..] or ["svips", ..] or ["instances", _] when segments.Length <= 4:
                await Text(context, 405, "Method Not Allowed").ConfigureAwait(false);
                break;
            default:
                await Text(context, 404, "Not Found").ConfigureAwait(false);
                break;
        }
    }

    private async Task RegisterAsync(HttpContext context, string app)
    {
        if (context.Request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) != true)
        {
            // Real servers also read XML bodies; this one is JSON-only, which is all the agent sends.
            await Text(context, 415, "Unsupported Media Type: register with a JSON body").ConfigureAwait(false);
            return;
        }

        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted).ConfigureAwait(false);
        if (body.Length > MaxBodyBytes)
        {
            await Text(context, 413, "Payload Too Large").ConfigureAwait(false);
            return;
        }

        EurekaInstanceInfo instance;
        try
        {
            instance = EurekaJsonReader.ReadInstanceBody(body.ToArray());
        }
        catch (JsonException ex)
        {
            await Text(context, 400, "Invalid instance body: " + ex.Message).ConfigureAwait(false);
            return;
        }

        if (registry.Register(app, instance) is { } error)
        {
            await Text(context, 400, error).ConfigureAwait(false);
            return;
        }

        if (logger is not null)
        {
            LogRegistered(logger, app.ToUpperInvariant(), instance.Id, instance.Status.ToWire());
        }

        context.Response.StatusCode = 204;
    }

    private async Task Status(HttpContext context, int status, string operation, string app, string id)
    {
        if (logger is not null && status == 200 && operation != "renew")
        {
            LogChanged(logger, operation, app.ToUpperInvariant(), id);
        }

        await Text(context, status, status switch
        {
            200 => "",
            404 => "Not Found",
            _ => "Internal Server Error",
        }).ConfigureAwait(false);
    }

    private Task Applications(HttpContext context, EurekaApplications applications) =>
        Answer(context, () => EurekaJsonWriter.Applications(applications, SingleObjectJson), () => EurekaXmlWriter.Applications(applications));

    private Task Application(HttpContext context, EurekaApplication? application) => application is null
        ? Text(context, 404, "Not Found")
        : Answer(context, () => EurekaJsonWriter.Application(application, SingleObjectJson), () => EurekaXmlWriter.Application(application));

    private Task Instance(HttpContext context, EurekaInstanceInfo? instance) => instance is null
        ? Text(context, 404, "Not Found")
        : Answer(context, () => EurekaJsonWriter.Instance(instance), () => EurekaXmlWriter.Instance(instance));

    // JSON only for a client that asked for it: a real server answers XML otherwise (docs/eureka.md#protocol-notes).
    private async Task Answer(HttpContext context, Func<byte[]> json, Func<byte[]> xml)
    {
        var wantsJson = context.Request.Headers.Accept.ToString().Contains("json", StringComparison.OrdinalIgnoreCase);
        if (!wantsJson && RefuseXml)
        {
            await Text(context, 406, "Not Acceptable: send Accept: application/json").ConfigureAwait(false);
            return;
        }

        var body = wantsJson ? json() : xml();
        context.Response.StatusCode = 200;
        context.Response.ContentType = wantsJson ? "application/json" : "application/xml";
        if (AcceptsGzip(context.Request))
        {
            // As Netflix's server does for a client that sends Accept-Encoding: gzip (the agent's does).
            body = Gzip(body);
            context.Response.Headers.ContentEncoding = "gzip";
        }

        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    private static bool AcceptsGzip(HttpRequest request) =>
        Microsoft.Net.Http.Headers.StringWithQualityHeaderValue.TryParseList(request.Headers.AcceptEncoding, out var codings) &&
        codings.Any(c => c.Value.Equals("gzip", StringComparison.OrdinalIgnoreCase) && c.Quality is not 0);

    private static byte[] Gzip(byte[] body)
    {
        using var compressed = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(body);
        }

        return compressed.ToArray();
    }

    private static long? Long(HttpContext context, string name) =>
        long.TryParse(context.Request.Query[name], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static async Task Text(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        if (text.Length > 0)
        {
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), context.RequestAborted).ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Registered {App}/{InstanceId} as {Status}")]
    private static partial void LogRegistered(ILogger logger, string app, string instanceId, string status);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "{Operation} of {App}/{InstanceId}")]
    private static partial void LogChanged(ILogger logger, string operation, string app, string instanceId);
}

using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Extensions;
using Sidecar.AppConfig;
using Sidecar.Configuration;
using Sidecar.Health;
using Sidecar.Observability;
using Sidecar.Platform;

namespace Sidecar.Actuator;

/// <summary>
/// The actuator's routes (docs/actuator.md), on the API and on the public health listener: the index, health
/// (with its liveness and readiness groups and each component) and info always; loggers, env, metrics and
/// prometheus when exposed, behind Basic auth when a user is set. Every answer comes from state the agent
/// already holds: nothing here waits for the app, Eureka or the Config Server.
/// </summary>
internal static partial class ActuatorApi
{
    private const int MaxBodyBytes = 1024;

    private static readonly string[] GetAndHead = ListenerExtensions.GetAndHead;

    public static IEndpointRouteBuilder MapActuator(this IEndpointRouteBuilder endpoints)
    {
        var services = endpoints.ServiceProvider;
        var options = services.GetRequiredService<ActuatorOptions>();
        var routes = services.GetRequiredService<PublicRoutes>();
        routes.Add(path => ActuatorExtensions.Claims(options, path));
        routes.AddProbes(path => ActuatorExtensions.IsProbe(options, path));
        WarnWhenOpen(options, services.GetRequiredService<SidecarOptions>(), services.GetRequiredService<ILoggerFactory>().CreateLogger("Sidecar.Actuator"));

        var b = options.BasePath;
        endpoints.MapMethods(b, GetAndHead, Index);
        endpoints.MapMethods(b + "/health", GetAndHead, Health);
        endpoints.MapMethods(b + "/health/{**path}", GetAndHead, HealthPath);
        endpoints.MapMethods(b + "/info", GetAndHead, Info);
        if (options.IsExposed(ActuatorEndpoint.Loggers))
        {
            endpoints.MapMethods(b + "/loggers", GetAndHead, Loggers);
            endpoints.MapMethods(b + "/loggers/{name}", GetAndHead, Logger);
            endpoints.MapPost(b + "/loggers/{name}", SetLoggerAsync);
        }

        if (options.IsExposed(ActuatorEndpoint.Env))
        {
            endpoints.MapMethods(b + "/env", GetAndHead, Env);
            endpoints.MapMethods(b + "/env/{toMatch}", GetAndHead, EnvEntry);
        }

        if (options.IsExposed(ActuatorEndpoint.Metrics))
        {
            endpoints.MapMethods(b + "/metrics", GetAndHead, MetricNamesAsync);
            endpoints.MapMethods(b + "/metrics/{requiredMetricName}", GetAndHead, MetricAsync);
        }

        if (options.IsExposed(ActuatorEndpoint.Prometheus))
        {
            endpoints.MapMethods(b + "/prometheus", GetAndHead, PrometheusAsync);
        }

        return endpoints;
    }

    private static Task Index(HttpContext context, ActuatorOptions options)
    {
        var request = context.Request;
        var url = UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, request.Path);
        return WriteJsonAsync(context, ActuatorJson.Links(ActuatorLinks.Resolve(url, options.Exposed)));
    }

    private static Task Health(HttpContext context, AppHealthMonitor monitor, IEnumerable<IReadinessCheck> checks, SidecarOptions sidecar)
    {
        var health = ActuatorHealth.Build(HealthApi.Report(monitor, checks, sidecar.Readiness));
        return WriteJsonAsync(context, ActuatorJson.Health(health, ActuatorMediaTypes.Version(context.Request.Headers.Accept)), health.HttpStatus);
    }

    // Spring's /health/{*path}: a group (liveness, readiness) or one component.
    private static Task HealthPath(HttpContext context, string path, AppHealthMonitor monitor, IEnumerable<IReadinessCheck> checks, SidecarOptions sidecar)
    {
        var report = HealthApi.Report(monitor, checks, sidecar.Readiness);
        var version = ActuatorMediaTypes.Version(context.Request.Headers.Accept);
        switch (path.TrimEnd('/'))
        {
            case "liveness":
                return WriteJsonAsync(context, ActuatorJson.Health(ActuatorHealth.Liveness(), version));
            case "readiness":
                var readiness = ActuatorHealth.Readiness(report);
                return WriteJsonAsync(context, ActuatorJson.Health(readiness, version), readiness.HttpStatus);
        }

        return ActuatorHealth.Build(report).Components.TryGetValue(path.TrimEnd('/'), out var component)
            ? WriteJsonAsync(context, ActuatorJson.Component(component), ActuatorHealth.HttpStatus(component.Status))
            : NotFound(context, $"No health component or group '{LogText.Printable(path)}': liveness, readiness or one of the components of health.");
    }

    private static Task Info(HttpContext context, ActuatorOptions options, AppOptions app, AppConfigStore store)
    {
        var agent = new List<KeyValuePair<string, string>> { new("sidecar.version", AgentIndexApi.Version), new("sidecar.commit", AgentIndexApi.Commit) };
        if (app.Name is { } name)
        {
            agent.Add(new("app.name", name));
        }

        return WriteJsonAsync(context, ActuatorJson.Info(InfoDocument.Build(agent, store.Current.Values, options.Info)));
    }

    private static Task Loggers(HttpContext context, ActuatorOptions options, AgentLogLevel level) =>
        Refused(context, options) ?? WriteJsonAsync(context, ActuatorJson.Loggers(LoggerLevels.Name(level.Current)));

    private static Task Logger(HttpContext context, string name, ActuatorOptions options, AgentLogLevel level) =>
        Refused(context, options) ?? (IsRoot(name)
            ? WriteJsonAsync(context, ActuatorJson.Logger(LoggerLevels.Name(level.Current)))
            : NoSuchLogger(context, name));

    private static async Task SetLoggerAsync(HttpContext context, string name, ActuatorOptions options, AgentLogLevel level, SidecarOptions sidecar, ILoggerFactory loggers)
    {
        if (Refused(context, options) is { } refused)
        {
            await refused.ConfigureAwait(false);
            return;
        }

        if (!IsRoot(name))
        {
            await NoSuchLogger(context, name).ConfigureAwait(false);
            return;
        }

        var (present, configured, error) = await ReadConfiguredLevelAsync(context).ConfigureAwait(false);
        var (requested, invalid) = error is null ? LoggerLevels.Requested(configured, present, sidecar.LogLevel) : (null, error);
        if (requested is not { } value)
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "bad-request", "Invalid log level",
                invalid + "; send {\"configuredLevel\":\"DEBUG\"}").ConfigureAwait(false);
            return;
        }

        var previous = level.Current;
        level.Switch.MinimumLevel = value;
        if (previous != value)
        {
            // At warning, so the change shows whatever the new level is.
            LogLevelChanged(loggers.CreateLogger("Sidecar.Hosting.Logging"), LoggerLevels.Name(previous), LoggerLevels.Name(value), context.Request.Path.Value ?? "");
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent; // Spring's answer to a write operation that returns nothing
    }

    private static Task Env(HttpContext context, ActuatorOptions options, AppConfigOptions config, AppConfigStore store) =>
        Refused(context, options) ?? WriteJsonAsync(context, ActuatorJson.Env(Profiles(config), EnvSource,
            store.Current.Keys.Select(key => new KeyValuePair<string, string>(key, EnvSanitizer.Shown(key, store.Current.Values[key], options.ShowValues)))));

    private static Task EnvEntry(HttpContext context, string toMatch, ActuatorOptions options, AppConfigOptions config, AppConfigStore store) =>
        Refused(context, options) ?? (store.Current.Values.TryGetValue(toMatch, out var value)
            ? WriteJsonAsync(context, ActuatorJson.EnvEntry(Profiles(config), EnvSource, EnvSanitizer.Shown(toMatch, value, options.ShowValues)))
            : NotFound(context, $"The app's config has no key '{LogText.Printable(toMatch)}'."));

    private static async Task MetricNamesAsync(HttpContext context, ActuatorOptions options, PrometheusMetrics metrics)
    {
        if (Refused(context, options) is { } refused)
        {
            await refused.ConfigureAwait(false);
            return;
        }

        var families = await FamiliesAsync(metrics, context.RequestAborted).ConfigureAwait(false);
        await WriteJsonAsync(context, ActuatorJson.MetricNames(ActuatorMetrics.Names(families))).ConfigureAwait(false);
    }

    private static async Task MetricAsync(HttpContext context, string requiredMetricName, ActuatorOptions options, PrometheusMetrics metrics)
    {
        if (Refused(context, options) is { } refused)
        {
            await refused.ConfigureAwait(false);
            return;
        }

        var (tags, bad) = ActuatorMetrics.ParseTags(context.Request.Query["tag"]);
        if (tags is null)
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "bad-request", "Invalid tag",
                $"'{LogText.Printable(bad ?? "")}': each tag parameter must be in the form 'key:value'.").ConfigureAwait(false);
            return;
        }

        var families = await FamiliesAsync(metrics, context.RequestAborted).ConfigureAwait(false);
        var metric = ActuatorMetrics.Metric(families, requiredMetricName, tags);
        await (metric is null
            ? NotFound(context, $"No metric '{LogText.Printable(requiredMetricName)}' with those tags; the metrics endpoint lists the names.")
            : WriteJsonAsync(context, ActuatorJson.Metric(metric))).ConfigureAwait(false);
    }

    private static async Task PrometheusAsync(HttpContext context, ActuatorOptions options, PrometheusMetrics metrics)
    {
        if (Refused(context, options) is { } refused)
        {
            await refused.ConfigureAwait(false);
            return;
        }

        context.Response.ContentType = MetricsRegistry.ContentType;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await metrics.WriteAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>The one property source <c>env</c> shows: the app's config as the agent serves it on <c>/v1/config</c>.</summary>
    internal const string EnvSource = "sidecar-agent:app-config";

    // Spring lists the profiles given; "default" is its default profile, not an active one.
    private static List<string> Profiles(AppConfigOptions config) => config.Profiles.Where(p => p != "default").ToList();

    private static bool IsRoot(string name) => string.Equals(name, LoggerLevels.Root, StringComparison.OrdinalIgnoreCase);

    private static Task NoSuchLogger(HttpContext context, string name) =>
        NotFound(context, $"No logger '{LogText.Printable(name)}': the agent has one level for all its logs, the logger ROOT.");

    private static async Task<IReadOnlyList<PrometheusFamily>> FamiliesAsync(PrometheusMetrics metrics, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await metrics.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        return PrometheusText.Parse(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    /// <summary>The 401 when Basic auth is set and the request does not carry the right credentials; null when it may go on.</summary>
    private static Task? Refused(HttpContext context, ActuatorOptions options)
    {
        if (!options.AuthRequired || BasicAuth.Allows(context.Request.Headers.Authorization, options.User!, options.Password!))
        {
            return null;
        }

        context.Response.OnStarting(static state =>
        {
            ((HttpResponse)state).Headers.WWWAuthenticate = BasicAuth.Challenge;
            return Task.CompletedTask;
        }, context.Response);
        return Problems.WriteAsync(context, StatusCodes.Status401Unauthorized, "unauthorized", "Unauthorized",
            "This actuator endpoint needs Basic auth (SIDECAR_ACTUATOR_USER and SIDECAR_ACTUATOR_PASSWORD).");
    }

    private static Task NotFound(HttpContext context, string detail) =>
        Problems.WriteAsync(context, StatusCodes.Status404NotFound, "not-found", "Not found", detail);

    /// <summary>The body in the media type the <c>Accept</c> header chose (Spring's order: v3, v2, JSON), or 406.</summary>
    private static Task WriteJsonAsync(HttpContext context, byte[] body, int status = StatusCodes.Status200OK)
    {
        if (ActuatorMediaTypes.Negotiate(context.Request.Headers.Accept) is not { } type)
        {
            return Problems.WriteAsync(context, StatusCodes.Status406NotAcceptable, "not-acceptable", "Not acceptable",
                $"The actuator answers {ActuatorMediaTypes.V3}, {ActuatorMediaTypes.V2} or {ActuatorMediaTypes.Json}.");
        }

        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = ActuatorMediaTypes.Name(type);
        response.ContentLength = body.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    // {"configuredLevel":"DEBUG"} or {"configuredLevel":null}; the body of a Spring write operation.
    private static async Task<(bool Present, string? Level, string? Error)> ReadConfiguredLevelAsync(HttpContext context)
    {
        var buffer = new byte[MaxBodyBytes + 1];
        var length = 0;
        try
        {
            int read;
            while (length < buffer.Length && (read = await context.Request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                length += read;
            }
        }
        catch (BadHttpRequestException)
        {
            return (false, null, "the body could not be read");
        }

        if (length > MaxBodyBytes)
        {
            return (false, null, "the body is too large");
        }

        try
        {
            using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("configuredLevel", out var value))
            {
                return (false, null, null);
            }

            return value.ValueKind switch
            {
                JsonValueKind.Null => (true, null, null),
                JsonValueKind.String => (true, value.GetString(), null),
                _ => (false, null, "\"configuredLevel\" is not a string or null"),
            };
        }
        catch (JsonException)
        {
            return (false, null, "the body is not JSON");
        }
    }

    private static void WarnWhenOpen(ActuatorOptions options, SidecarOptions sidecar, ILogger logger)
    {
        if (!options.AuthRequired && sidecar.PublicHealthPort is not null &&
            (options.IsExposed(ActuatorEndpoint.Env) || options.IsExposed(ActuatorEndpoint.Loggers)))
        {
            OpenOnPublicListener(logger, options.BasePath);
        }
    }

    [LoggerMessage(EventId = 900, Level = LogLevel.Warning, Message = "Log level changed from {Previous} to {Level} (POST {Path}); SIDECAR_LOG_LEVEL applies again at the next start")]
    private static partial void LogLevelChanged(ILogger logger, string previous, string level, string path);

    [LoggerMessage(EventId = 901, Level = LogLevel.Warning, Message = "The actuator's env or loggers endpoint is exposed on the public health listener without SIDECAR_ACTUATOR_USER: anyone who reaches it can read the app's config or change the log level ({BasePath})")]
    private static partial void OpenOnPublicListener(ILogger logger, string basePath);
}

using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Primitives;
using Sidecar.Configuration;
using Sidecar.Platform;
using Sidecar.Health;
using Sidecar.Observability;

namespace Sidecar.AppConfig;

internal static class AppConfigApi
{
    /// <summary>The longest long-poll: a longer <c>?wait=</c> is shortened to it (as Consul does), so idle proxies and clients do not cut the request first.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(5);

    /// <summary>The config store, the refresher (first load at start, then polling), the Config Server client and the <c>config</c> health entry. Safe to call twice.</summary>
    public static IServiceCollection AddAppConfig(this IServiceCollection services, AppConfigOptions options, SidecarOptions sidecar)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddServingLifetime();
        services.TryAddSingleton<AppConfigStore>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMetricsContributor, ConfigFamilies>());
        if (options.UsesServer)
        {
            services.TryAddSingleton(sp => new ConfigServerClient(options, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ConfigServerClient>>()));
        }

        services.TryAddSingleton<DataFolder>();
        services.TryAddSingleton(sp => new LastKnownGoodStore(sidecar.DataDir, sp.GetRequiredService<ILogger<LastKnownGoodStore>>(), sp.GetRequiredService<DataFolder>()));
        services.TryAddSingleton(sp => new AppConfigRefresher(
            options,
            sp.GetRequiredService<AppConfigStore>(),
            sp.GetRequiredService<LastKnownGoodStore>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<AppConfigRefresher>>(),
            sp.GetService<ConfigServerClient>(),
            sp.GetService<AppConfig.ConfigMetrics>()));
        services.AddHostedService(sp => sp.GetRequiredService<AppConfigRefresher>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IReadinessCheck, AppConfigReadinessCheck>());
        return services;
    }

    /// <summary>
    /// <c>/dynamicproperties</c> (Prana), <c>/v1/config</c> and <c>/v1/config/{key}</c>. Every answer
    /// comes from the current snapshot: nothing here waits for the Config Server.
    /// </summary>
    public static IEndpointRouteBuilder MapAppConfigApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/dynamicproperties", WriteDynamicPropertiesAsync);
        endpoints.MapGet("/v1/config", GetConfigAsync);
        endpoints.MapGet("/v1/config/{**key}", GetValue);
        return endpoints;
    }

    // Prana: {"a":"value","b":null}, every value a string, null for a key that is absent.
    private static async Task WriteDynamicPropertiesAsync(HttpContext context, AppConfigStore store)
    {
        var values = store.Current.Values;
        var ids = context.Request.Query["id"];
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        using (var writer = new Utf8JsonWriter(context.Response.BodyWriter))
        {
            writer.WriteStartObject();
            for (var i = 0; i < ids.Count; i++)
            {
                var id = ids[i];
                if (string.IsNullOrEmpty(id) || IsRepeated(ids, i))
                {
                    continue;
                }

                if (values.TryGetValue(id, out var value))
                {
                    writer.WriteString(id, value);
                }
                else
                {
                    writer.WriteNull(id);
                }
            }

            writer.WriteEndObject();
        }

        await context.Response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task GetConfigAsync(
        HttpContext context,
        AppConfigStore store,
        TimeProvider time,
        ServingLifetime serving,
        [FromQuery] string? prefix,
        [FromQuery] string? wait)
    {
        if (!TryReadWait(wait, out var waitFor))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "invalid-wait", "Invalid wait",
                $"'{wait}' is not a duration (examples: 0, 500ms, 30s, 2m); the longest wait is {DurationParser.Format(MaxWait)}.").ConfigureAwait(false);
            return;
        }

        var snapshot = store.Current;
        if (Matches(context.Request.Headers.IfNoneMatch, snapshot.ETag))
        {
            if (waitFor > TimeSpan.Zero)
            {
                if (serving.HasEnded)
                {
                    await WriteShuttingDownAsync(context).ConfigureAwait(false);
                    return;
                }

                snapshot = await WaitForChangeAsync(snapshot, store, waitFor < MaxWait ? waitFor : MaxWait, time, serving.Ending, context.RequestAborted).ConfigureAwait(false);
                if (serving.HasEnded)
                {
                    // Released for the shutdown: the next poll must come on a new connection, to whoever listens then.
                    context.Response.Headers.Connection = "close";
                }
            }

            if (Matches(context.Request.Headers.IfNoneMatch, snapshot.ETag))
            {
                context.Response.StatusCode = StatusCodes.Status304NotModified;
                SetHeaders(context, snapshot);
                return;
            }
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        SetHeaders(context, snapshot);
        await context.Response.BodyWriter.WriteAsync(snapshot.JsonWithPrefix(prefix ?? ""), context.RequestAborted).ConfigureAwait(false);
    }

    private static IResult GetValue(HttpContext context, AppConfigStore store, string key)
    {
        key = KeyOf(context, key);
        var snapshot = store.Current;
        if (!snapshot.Values.TryGetValue(key, out var value))
        {
            return Problems.Result(StatusCodes.Status404NotFound, "config-key-not-found", "No such config key",
                $"The config (version {snapshot.Version}) has no key '{key}'; GET /v1/config lists the keys.");
        }

        SetHeaders(context, snapshot);
        return TypedResults.Text(value, "text/plain; charset=utf-8");
    }

    // Kestrel decodes the path except %2F (an escaped '/' must not change the route), so "a%2Fb" and
    // "a%252Fb" both reach the route as "a%2Fb", and neither is the key "a/b". The key is decoded from
    // the raw target instead, every escape once, so a key escaped with encodeURIComponent finds its
    // value whatever it holds ('/', '%', spaces). A target the route saw otherwise (dot segments that
    // Kestrel removed, an escaped prefix) keeps the route's key.
    private static string KeyOf(HttpContext context, string routeKey)
    {
        const string prefix = "/v1/config/";
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (raw is null || !raw.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return routeKey;
        }

        var query = raw.IndexOf('?', StringComparison.Ordinal);
        var escaped = query < 0 ? raw[prefix.Length..] : raw[prefix.Length..query];
        foreach (var segment in escaped.Split('/'))
        {
            if (Uri.UnescapeDataString(segment) is "." or "..")
            {
                return routeKey;
            }
        }

        return Uri.UnescapeDataString(escaped);
    }

    // No wait is "do not wait". A bare 0 needs no unit, as for CONFIG_POLL_INTERVAL (any other
    // number does: "10" could mean seconds or milliseconds).
    private static bool TryReadWait(string? wait, out TimeSpan waitFor)
    {
        waitFor = TimeSpan.Zero;
        if (wait is null || wait.Trim() == "0")
        {
            return true;
        }

        return DurationParser.TryParse(wait, out waitFor) && waitFor >= TimeSpan.Zero;
    }

    // Waits until the snapshot is replaced, the wait ends, the client leaves or the agent stops serving.
    // Not on ApplicationStopping: that fires before the drain, and a client that polls again after each
    // 304 would then get a 304 at once, again and again, for the whole drain (thousands of requests).
    // Released at the end of the drain (then answered at once), long-polls never hold Kestrel's stop.
    private static async Task<AppConfigSnapshot> WaitForChangeAsync(
        AppConfigSnapshot snapshot, AppConfigStore store, TimeSpan wait, TimeProvider time, CancellationToken servingEnds, CancellationToken aborted)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(aborted, servingEnds);
        try
        {
            await snapshot.Superseded.WaitAsync(wait, time, linked.Token).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // no change within the wait: 304
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            // the agent stops serving: answer now
        }

        return store.Current;
    }

    // A long-poll that comes after the release (in the moment before the listener closes) would be
    // answered at once, and a client that polls again straight away would spin: a 503 with Retry-After
    // sends it to its back-off instead, and Connection: close makes it reconnect.
    private static Task WriteShuttingDownAsync(HttpContext context) =>
        Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "shutting-down", "The agent is shutting down",
            "The agent no longer holds long-polls; poll again after Retry-After.", retryAfter: "1", close: true);

    private static void SetHeaders(HttpContext context, AppConfigSnapshot snapshot)
    {
        context.Response.Headers.ETag = snapshot.ETag;
        context.Response.Headers.CacheControl = "no-cache";
    }

    // If-None-Match: a list of entity tags, weak (W/"1") or strong ("1"), or *; weak comparison (RFC 9110, 13.1.2).
    private static bool Matches(StringValues ifNoneMatch, string etag)
    {
        foreach (var header in ifNoneMatch)
        {
            foreach (var range in (header ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var tag = range.StartsWith("W/", StringComparison.Ordinal) ? range[2..] : range;
                if (tag == "*" || string.Equals(tag, etag, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool IsRepeated(StringValues ids, int index)
    {
        for (var i = 0; i < index; i++)
        {
            if (string.Equals(ids[i], ids[index], StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}

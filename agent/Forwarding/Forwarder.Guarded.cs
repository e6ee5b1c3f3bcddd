using System.Diagnostics;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using Sidecar.Observability;
using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// The path of a call to a service with a response cache or admission rules (docs/resilience.md): the cache
/// first (a hit sends nothing and spends no rate or slot), then the rate limit, the bulkhead and the circuit
/// breaker, then the <see cref="ForwardCall"/>; its answer is stored when HTTP lets a shared cache keep it.
/// Services with none of them never come here.
/// </summary>
internal sealed partial class Forwarder
{
    // Only the calls that may be answered from the cache or stored take an async step of their own here; the
    // others go on to the admission checks, which run synchronously (docs/resilience.md#cost).
    private Task GuardedAsync(HttpContext context, ServicePool pool, string target, TimeSpan deadline)
    {
        if (pool.Cache is not { } cache)
        {
            return AdmitAsync(pool.Admission!, context, pool, target, deadline);
        }

        var request = context.Request;
        var method = request.Method;
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method))
        {
            return UnsafeMethodAsync(context, pool, cache, target, deadline);
        }

        var ask = CacheRules.ForRequest(method, request.Headers);
        return ask.Lookup
            ? CachedAsync(context, pool, cache, target, deadline, ask)
            : AdmitOrRunAsync(context, pool, target, deadline);
    }

    private async Task UnsafeMethodAsync(HttpContext context, ServicePool pool, ResponseCache cache, string target, TimeSpan deadline)
    {
        await AdmitOrRunAsync(context, pool, target, deadline).ConfigureAwait(false);
        // RFC 9111 4.4: a non-error answer to an unsafe method invalidates what is stored for the URI.
        if (!HttpMethods.IsOptions(context.Request.Method) && context.Response.StatusCode is >= 200 and < 400)
        {
            cache.Invalidate(pool.Name, target);
        }
    }

    private Task CachedAsync(HttpContext context, ServicePool pool, ResponseCache cache, string target, TimeSpan deadline, CacheRequest ask)
    {
        var request = context.Request;
        var hasAuthorization = request.Headers.ContainsKey(HeaderNames.Authorization);
        var entry = cache.Find(pool.Name, target, request.Headers);
        if (entry is not null && hasAuthorization && !entry.AllowsAuthorized)
        {
            entry = null;
        }

        return entry is null
            ? MissAsync(context, pool, cache, target, deadline, ask.Store, hasAuthorization)
            : StoredAsync(context, pool, cache, target, deadline, ask, hasAuthorization, entry);
    }

    /// <summary>Nothing stored for the request: the call, and its answer kept when HTTP lets a shared cache keep it.</summary>
    private async Task MissAsync(HttpContext context, ServicePool pool, ResponseCache cache, string target, TimeSpan deadline, bool store, bool hasAuthorization)
    {
        // Apart from the stored-answer path, so that the common case's async step carries few locals (docs/resilience.md#cost).
        var original = store ? context.Features.Get<IHttpResponseBodyFeature>() : null;
        if (original is null)
        {
            await AdmitOrRunAsync(context, pool, target, deadline).ConfigureAwait(false);
            pool.Metrics.Cache(CacheResult.Miss);
            return;
        }

        // Whether the answer may be stored is known at its first byte (status and headers are set by then):
        // an answer that may not is passed on without a copy.
        var capture = new CapturingResponseBody(original, cache, context.Response, hasAuthorization);
        context.Features.Set<IHttpResponseBodyFeature>(capture);
        try
        {
            await AdmitOrRunAsync(context, pool, target, deadline).ConfigureAwait(false);
        }
        finally
        {
            context.Features.Set(original);
        }

        pool.Metrics.Cache(CacheResult.Miss);
        StoreCaptured(context, pool, cache, target, capture, hasAuthorization);
    }

    /// <summary>A stored answer: served when fresh, else revalidated with the instance when it can be (RFC 9111 4.3.1).</summary>
    private async Task StoredAsync(HttpContext context, ServicePool pool, ResponseCache cache, string target, TimeSpan deadline, CacheRequest ask, bool hasAuthorization, CachedResponse entry)
    {
        var request = context.Request;
        if (!ask.MustRevalidate && cache.IsFresh(entry))
        {
            await ServeAsync(context, pool, cache, entry, CacheResult.Hit).ConfigureAwait(false);
            return;
        }

        // Stale, or the caller asked for no-cache: a conditional request to the instance (RFC 9111 4.3.1).
        CachedResponse? revalidating = null;
        if (entry.ETag is not null || entry.LastModified is not null)
        {
            revalidating = entry;
            if (entry.ETag is { } etag)
            {
                request.Headers.IfNoneMatch = etag;
            }

            if (entry.LastModified is { } lastModified)
            {
                request.Headers.IfModifiedSince = lastModified;
            }
        }

        var original = ask.Store ? context.Features.Get<IHttpResponseBodyFeature>() : null;
        // Whether the answer may be stored is known at its first byte (status and headers are set by then):
        // an answer that may not is passed on without a copy.
        var capture = original is null ? null : new CapturingResponseBody(original, cache, context.Response, hasAuthorization);
        if (capture is not null)
        {
            context.Features.Set<IHttpResponseBodyFeature>(capture);
        }

        try
        {
            await AdmitOrRunAsync(context, pool, target, deadline).ConfigureAwait(false);
        }
        finally
        {
            if (original is not null)
            {
                context.Features.Set(original);
            }
        }

        var response = context.Response;
        if (revalidating is not null && response.StatusCode == StatusCodes.Status304NotModified && !response.HasStarted)
        {
            var verdict = CacheRules.ForResponse(revalidating.Status, response.Headers, hasAuthorization, cache.Time.GetUtcNow());
            cache.Refresh(revalidating, response.Headers, verdict.Storable ? verdict.Freshness : revalidating.Freshness);
            response.Clear();
            await ServeAsync(context, pool, cache, revalidating, CacheResult.Revalidated).ConfigureAwait(false);
            return;
        }

        pool.Metrics.Cache(CacheResult.Miss);
        if (capture is not null)
        {
            StoreCaptured(context, pool, cache, target, capture, hasAuthorization);
        }
    }

    private static void StoreCaptured(HttpContext context, ServicePool pool, ResponseCache cache, string target, CapturingResponseBody capture, bool hasAuthorization)
    {
        var response = context.Response;
        if (capture.Captured is { } body && !context.RequestAborted.IsCancellationRequested && !response.Headers.ContainsKey(Problems.ErrorHeader))
        {
            var verdict = CacheRules.ForResponse(response.StatusCode, response.Headers, hasAuthorization, cache.Time.GetUtcNow());
            if (verdict.Storable)
            {
                cache.Store(pool.Name, target, context.Request.Headers, response.StatusCode, response.Headers, body, verdict);
            }
        }
    }

    private Task AdmitOrRunAsync(HttpContext context, ServicePool pool, string target, TimeSpan deadline) =>
        pool.Admission is { } admission
            ? AdmitAsync(admission, context, pool, target, deadline)
            : new ForwardCall(this, context, pool, target, deadline).RunAsync();

    /// <summary>The stored answer, with its <c>Age</c> (RFC 9111 5.1); a HEAD gets the headers only.</summary>
    private static async Task ServeAsync(HttpContext context, ServicePool pool, ResponseCache cache, CachedResponse entry, CacheResult result)
    {
        var started = Stopwatch.GetTimestamp();
        var response = context.Response;
        response.StatusCode = entry.Status;
        foreach (var (name, value) in entry.Headers)
        {
            response.Headers[name] = value;
        }

        response.Headers.Age = ((long)cache.AgeOf(entry).TotalSeconds).ToString(CultureInfo.InvariantCulture);
        response.ContentLength = entry.Body.Length; // a HEAD's too: the length of the GET's body
        pool.Metrics.Cache(result);
        if (!HttpMethods.IsHead(context.Request.Method) && entry.Body.Length > 0)
        {
            try
            {
                await response.Body.WriteAsync(entry.Body, context.RequestAborted).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // the caller left
            }
        }

        if (result == CacheResult.Hit)
        {
            // No ForwardCall ran: the request is counted here (a revalidation was counted by its call).
            pool.Metrics.Completed(MethodClass.Of(context.Request.Method), entry.Status, Stopwatch.GetTimestamp() - started);
        }
    }

    /// <summary>
    /// The rate limit, the bulkhead and the circuit breaker of the service (docs/resilience.md), in that
    /// order, before anything is sent: a refused call is answered at once and no instance sees it. Checked
    /// synchronously: an admitted call is the <see cref="ForwardCall"/>'s task itself, or one small async
    /// step that gives the bulkhead slot (or the breaker's trial) back when it ends (docs/resilience.md#cost).
    /// </summary>
    private Task AdmitAsync(ServiceAdmission admission, HttpContext context, ServicePool pool, string target, TimeSpan deadline)
    {
        if (admission.Rate is { } rate && !rate.TryTake(out var wait))
        {
            return Reject(context, pool, target, StatusCodes.Status429TooManyRequests, ForwardingProblems.RateLimited, "Rate limited",
                $"Calls to '{pool.Name}' are limited to {admission.Policy.RateLimit} per second by this agent (RateLimit, burst {admission.Policy.RateLimitBurst}).", wait);
        }

        RateLimitLease? lease = null;
        var slot = false;
        if (admission.Slots is { } slots)
        {
            if (!slots.TryEnter())
            {
                return RejectBusy(admission, context, pool, target);
            }

            slot = true;
        }
        else if (admission.Bulkhead is { } bulkhead)
        {
            lease = bulkhead.AttemptAcquire();
            if (!lease.IsAcquired)
            {
                lease.Dispose();
                return admission.Policy.MaxQueuedRequests > 0
                    ? QueueAsync(admission, bulkhead, context, pool, target, deadline)
                    : RejectBusy(admission, context, pool, target);
            }
        }

        return PassBreaker(admission, lease, slot, context, pool, target, deadline);
    }

    /// <summary>The bulkhead is full and has a queue: the call waits for a slot as long as its caller does.</summary>
    private async Task QueueAsync(ServiceAdmission admission, ConcurrencyLimiter bulkhead, HttpContext context, ServicePool pool, string target, TimeSpan deadline)
    {
        RateLimitLease lease;
        try
        {
            lease = await bulkhead.AcquireAsync(1, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            pool.Metrics.Count(MethodClass.Of(context.Request.Method), 499); // the caller left while waiting
            return;
        }

        if (!lease.IsAcquired)
        {
            lease.Dispose();
            await RejectBusy(admission, context, pool, target).ConfigureAwait(false);
            return;
        }

        await PassBreaker(admission, lease, false, context, pool, target, deadline).ConfigureAwait(false);
    }

    /// <summary>The circuit breaker, then the call; the bulkhead's slot (<paramref name="lease"/> or <paramref name="slot"/>), if any, is given back when it ends.</summary>
    private Task PassBreaker(ServiceAdmission admission, RateLimitLease? lease, bool slot, HttpContext context, ServicePool pool, string target, TimeSpan deadline)
    {
        var trial = false;
        Task task;
        try
        {
            if (admission.Breaker is { } breaker && !breaker.TryAdmit(out var retryAfter, out trial))
            {
                task = Reject(context, pool, target, StatusCodes.Status503ServiceUnavailable, ForwardingProblems.CircuitOpen, "Circuit open",
                    $"The circuit breaker of '{pool.Name}' is open: too many of its recent calls failed. Calls resume after the break.", retryAfter);
            }
            else
            {
                task = new ForwardCall(this, context, pool, target, deadline).RunAsync();
            }
        }
        catch
        {
            Release(admission, lease, slot, trial);
            throw;
        }

        return lease is null && !slot && !trial ? task : ReleaseAfterAsync(task, admission, lease, slot, trial);
    }

    private static async Task ReleaseAfterAsync(Task call, ServiceAdmission admission, RateLimitLease? lease, bool slot, bool trial)
    {
        try
        {
            await call.ConfigureAwait(false);
        }
        finally
        {
            Release(admission, lease, slot, trial);
        }
    }

    private static void Release(ServiceAdmission admission, RateLimitLease? lease, bool slot, bool trial)
    {
        if (slot)
        {
            admission.Slots!.Exit();
        }

        if (trial)
        {
            admission.Breaker!.EndTrial();
        }

        lease?.Dispose();
    }

    private Task RejectBusy(ServiceAdmission admission, HttpContext context, ServicePool pool, string target) =>
        Reject(context, pool, target, StatusCodes.Status503ServiceUnavailable, ForwardingProblems.ConcurrencyLimit, "Concurrency limit",
            $"'{pool.Name}' already has {admission.Policy.MaxConcurrentRequests} calls in flight from this agent (MaxConcurrentRequests)" +
            (admission.Policy.MaxQueuedRequests > 0 ? $" and {admission.Policy.MaxQueuedRequests} waiting (MaxQueuedRequests)." : "."), null);

    private Task Reject(HttpContext context, ServicePool pool, string target, int status, string code, string title, string detail, TimeSpan? retryAfter)
    {
        Log.Rejected(pool.Name, status, code);
        Tracing.Rejected(context, pool.Name, target, status, code);
        return Refuse(context, pool.Metrics, status, code, title, detail, retryAfter: retryAfter is { } delay ? RetryAfterSeconds(delay) : null);
    }

    /// <summary>Whole seconds, rounded up, at least 1 (a <c>Retry-After</c> of 0 invites an immediate retry storm).</summary>
    internal static string RetryAfterSeconds(TimeSpan delay) =>
        Math.Max(1, (long)Math.Ceiling(delay.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);

}

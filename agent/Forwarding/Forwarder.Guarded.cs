using System.Diagnostics;
using System.Globalization;
using System.Threading.RateLimiting;
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
    // The cache's decisions and the admission checks run synchronously: an admitted call is the ForwardCall's
    // own task, which gives back what the admission took and does the cache's part when it ends (CallGuard),
    // so a guarded call takes no async step more than a plain one (docs/resilience.md#cost). Only a call for
    // which an answer is stored takes a step of its own (StoredAsync).
    private Task GuardedAsync(HttpContext context, ServicePool pool, string target, TimeSpan deadline)
    {
        var use = CacheUse.None;
        var authorized = false;
        if (pool.Cache is { } cache)
        {
            var request = context.Request;
            var method = request.Method;
            if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method))
            {
                use = CacheUse.Invalidate;
            }
            else if (CacheRules.ForRequest(method, request.Headers) is { Lookup: true } ask)
            {
                authorized = request.Headers.ContainsKey(HeaderNames.Authorization);
                var entry = cache.Find(pool.Name, target, request.Headers);
                if (entry is not null && (!authorized || entry.AllowsAuthorized))
                {
                    return StoredAsync(context, pool, cache, target, deadline, ask, authorized, entry);
                }

                use = ask.Store ? CacheUse.MissStore : CacheUse.Miss;
            }
        }

        return AdmitAsync(context, pool, target, deadline, use, authorized);
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

        // The new answer is stored by the call when it may be (CallGuard; a 304 never is).
        await AdmitAsync(context, pool, target, deadline, ask.Store ? CacheUse.Store : CacheUse.None, hasAuthorization).ConfigureAwait(false);

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
    }

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
    /// synchronously: an admitted call is the <see cref="ForwardCall"/>'s task itself, which gives the bulkhead
    /// slot (or the breaker's trial) back when it ends (<see cref="CallGuard"/>, docs/resilience.md#cost).
    /// A call that found nothing in the cache (<paramref name="use"/>) counts as a miss, refused or not.
    /// </summary>
    private Task AdmitAsync(HttpContext context, ServicePool pool, string target, TimeSpan deadline, CacheUse use, bool authorized)
    {
        if (pool.Admission is not { } admission)
        {
            return Run(null, null, false, false, context, pool, target, deadline, use, authorized);
        }

        if (admission.Rate is { } rate && !rate.TryTake(out var wait))
        {
            CountMiss(pool, use);
            return Reject(context, pool, target, StatusCodes.Status429TooManyRequests, ForwardingProblems.RateLimited, "Rate limited",
                $"Calls to '{pool.Name}' are limited to {admission.Policy.RateLimit} per second by this agent (RateLimit, burst {admission.Policy.RateLimitBurst}).", wait);
        }

        if (admission.Slots is { } slots)
        {
            if (!slots.TryEnter())
            {
                CountMiss(pool, use);
                return RejectBusy(admission, context, pool, target);
            }

            return PassBreaker(admission, null, true, context, pool, target, deadline, use, authorized);
        }

        if (admission.Bulkhead is { } bulkhead)
        {
            var lease = bulkhead.AttemptAcquire();
            if (!lease.IsAcquired)
            {
                lease.Dispose();
                if (admission.Policy.MaxQueuedRequests > 0)
                {
                    return QueueAsync(admission, bulkhead, context, pool, target, deadline, use, authorized);
                }

                CountMiss(pool, use);
                return RejectBusy(admission, context, pool, target);
            }

            return PassBreaker(admission, lease, false, context, pool, target, deadline, use, authorized);
        }

        return PassBreaker(admission, null, false, context, pool, target, deadline, use, authorized);
    }

    /// <summary>The bulkhead is full and has a queue: the call waits for a slot as long as its caller does.</summary>
    private async Task QueueAsync(ServiceAdmission admission, ConcurrencyLimiter bulkhead, HttpContext context, ServicePool pool, string target, TimeSpan deadline, CacheUse use, bool authorized)
    {
        RateLimitLease lease;
        try
        {
            lease = await bulkhead.AcquireAsync(1, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            pool.Metrics.Count(MethodClass.Of(context.Request.Method), 499); // the caller left while waiting
            CountMiss(pool, use);
            return;
        }

        if (!lease.IsAcquired)
        {
            lease.Dispose();
            CountMiss(pool, use);
            await RejectBusy(admission, context, pool, target).ConfigureAwait(false);
            return;
        }

        await PassBreaker(admission, lease, false, context, pool, target, deadline, use, authorized).ConfigureAwait(false);
    }

    /// <summary>The circuit breaker, then the call; the bulkhead's slot (<paramref name="lease"/> or <paramref name="slot"/>), if any, is given back when it ends.</summary>
    private Task PassBreaker(ServiceAdmission admission, RateLimitLease? lease, bool slot, HttpContext context, ServicePool pool, string target, TimeSpan deadline, CacheUse use, bool authorized)
    {
        var trial = false;
        if (admission.Breaker is { } breaker && !breaker.TryAdmit(out var retryAfter, out trial))
        {
            // Nothing was sent: the slot is given back before the refusal is written.
            if (slot)
            {
                admission.Slots!.Exit();
            }

            lease?.Dispose();
            CountMiss(pool, use);
            return Reject(context, pool, target, StatusCodes.Status503ServiceUnavailable, ForwardingProblems.CircuitOpen, "Circuit open",
                $"The circuit breaker of '{pool.Name}' is open: too many of its recent calls failed. Calls resume after the break.", retryAfter);
        }

        return Run(admission, lease, slot, trial, context, pool, target, deadline, use, authorized);
    }

    /// <summary>The call itself, with what it owes when it ends; a plain <see cref="ForwardCall"/> when it owes nothing.</summary>
    private Task Run(ServiceAdmission? admission, RateLimitLease? lease, bool slot, bool trial, HttpContext context, ServicePool pool, string target, TimeSpan deadline, CacheUse use, bool authorized)
    {
        var guard = lease is null && !slot && !trial && use == CacheUse.None
            ? null
            : new CallGuard(admission, lease, slot, trial, pool.Cache, use, authorized);
        try
        {
            return new KestrelForwardCall(this, context, pool, target, deadline, guard).RunAsync().AsTask();
        }
        catch
        {
            guard?.Release();
            throw;
        }
    }

    private static void CountMiss(ServicePool pool, CacheUse use)
    {
        if (use is CacheUse.Miss or CacheUse.MissStore)
        {
            pool.Metrics.Cache(CacheResult.Miss);
        }
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

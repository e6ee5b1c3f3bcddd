using System.Threading.RateLimiting;
using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>What the response cache does with a guarded call (<see cref="CallGuard"/>).</summary>
internal enum CacheUse : byte
{
    /// <summary>Nothing: the request may not be answered from the cache (a conditional request, <c>no-store</c>...).</summary>
    None,

    /// <summary>Nothing was stored for a <c>HEAD</c>: counted as a miss, its answer is not stored.</summary>
    Miss,

    /// <summary>Nothing was stored for a <c>GET</c>: counted as a miss, its answer stored when HTTP lets a shared cache keep it.</summary>
    MissStore,

    /// <summary>A stale stored answer is revalidated (<c>Forwarder.StoredAsync</c> counts it): the new answer stored when it may be.</summary>
    Store,

    /// <summary>An unsafe method: a non-error answer invalidates what is stored for the URI (RFC 9111 4.4).</summary>
    Invalidate,
}

/// <summary>
/// What a guarded call (<c>Forwarder.Guarded.cs</c>, docs/resilience.md) took before it started and owes when it
/// ends: the bulkhead's slot or lease and the breaker's trial, given back; for the response cache, whether its
/// answer is stored, decided once at its status and headers, and the miss or the invalidation. Run by the
/// <see cref="ForwardCall"/> itself, so that a guarded call is the same one async step as a plain one, with no
/// step of its own around it (docs/resilience.md#cost). One object per guarded call; plain calls have none.
/// </summary>
#pragma warning disable CA1001 // the capture holds memory only, and is let go when the call ends (Copied, End)
internal sealed class CallGuard(ServiceAdmission? admission, RateLimitLease? lease, bool slot, bool trial, ResponseCache? cache, CacheUse use, bool authorized)
{
    private CapturingResponseBody? _capture;
#pragma warning restore CA1001

    /// <summary>Gives back what the admission took; idempotent.</summary>
    public void Release()
    {
        if (slot)
        {
            slot = false;
            admission!.Slots!.Exit();
        }

        if (trial)
        {
            trial = false;
            admission!.Breaker!.EndTrial();
        }

        lease?.Dispose();
        lease = null;
    }

    /// <summary>
    /// Where the answer's body goes, once its status and headers are set: the caller's body, or, when the answer
    /// may be stored, a copy of it kept on the way. The cheap test first: an answer without <c>Cache-Control</c>
    /// or <c>Expires</c> has no freshness and is never stored (<see cref="CacheRules.ForResponse"/>).
    /// </summary>
    public Stream BodyFor(HttpResponse answer)
    {
        var body = answer.Body;
        if (use is CacheUse.MissStore or CacheUse.Store &&
            CacheRules.MayStore(answer.Headers) &&
            CacheRules.ForResponse(answer.StatusCode, answer.Headers, authorized, cache!.Time.GetUtcNow()).Storable)
        {
            _capture = new CapturingResponseBody(body, cache.MaxEntryBytes);
            return _capture;
        }

        return body;
    }

    /// <summary>The whole answer was passed on: stored when it was captured and is still storable (RFC 9111 3).</summary>
    public void Copied(HttpContext context, ServicePool pool, string target)
    {
        if (_capture is not { } capture)
        {
            return;
        }

        _capture = null;
        using var _ = capture;
        var response = context.Response;
        if (capture.Captured is { } body && !context.RequestAborted.IsCancellationRequested && !response.Headers.ContainsKey(Problems.ErrorHeader))
        {
            var verdict = CacheRules.ForResponse(response.StatusCode, response.Headers, authorized, cache!.Time.GetUtcNow());
            if (verdict.Storable)
            {
                cache.Store(pool.Name, target, context.Request.Headers, response.StatusCode, response.Headers, body, verdict);
            }
        }
    }

    /// <summary>The call ended: the slot and the trial back, the miss counted, an unsafe method's URI invalidated.</summary>
    public void End(HttpContext context, ServicePool pool, string target)
    {
        Release();
        _capture?.Dispose(); // the copy failed half way
        _capture = null;
        switch (use)
        {
            case CacheUse.Miss or CacheUse.MissStore:
                pool.Metrics.Cache(CacheResult.Miss);
                break;
            case CacheUse.Invalidate when context.Response.StatusCode is >= 200 and < 400 && !HttpMethods.IsOptions(context.Request.Method):
                cache!.Invalidate(pool.Name, target);
                break;
        }
    }
}

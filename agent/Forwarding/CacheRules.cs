using System.Globalization;
using Microsoft.Net.Http.Headers;

namespace Sidecar.Forwarding;

/// <summary>What a request asks of the cache (RFC 9111 5.2.1): whether it may be answered from it, and stored.</summary>
internal readonly record struct CacheRequest(bool Lookup, bool MustRevalidate, bool Store);

/// <summary>Whether an answer may be stored (RFC 9111 3 and 3.5), and for how long it is fresh (4.2.1).</summary>
internal readonly record struct CacheVerdict(bool Storable, TimeSpan Freshness, bool AllowsAuthorized);

/// <summary>
/// The shared-cache rules of the response cache (docs/resilience.md#response-cache), as a decider: headers
/// in, decision out, no I/O and no clock of its own (the time is passed in).
/// </summary>
internal static class CacheRules
{
    /// <summary>Status codes a cache may store with explicit freshness (RFC 9110 15.1's heuristically cacheable ones).</summary>
    private static readonly int[] CacheableStatuses = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];

    /// <summary>
    /// GET and HEAD only, and not a conditional or range request (passed on as they are); <c>no-cache</c>,
    /// <c>max-age=0</c> or <c>Pragma: no-cache</c> revalidate; <c>no-store</c> neither reads nor stores.
    /// </summary>
    public static CacheRequest ForRequest(string method, IHeaderDictionary headers)
    {
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method))
        {
            return default;
        }

        if (headers.ContainsKey(HeaderNames.IfNoneMatch) || headers.ContainsKey(HeaderNames.IfModifiedSince) ||
            headers.ContainsKey(HeaderNames.IfMatch) || headers.ContainsKey(HeaderNames.IfUnmodifiedSince) || headers.ContainsKey(HeaderNames.Range))
        {
            return default;
        }

        var revalidate = false;
        if (headers.CacheControl.Count > 0 && CacheControlHeaderValue.TryParse(headers.CacheControl.ToString(), out var control))
        {
            if (control.NoStore)
            {
                return default;
            }

            revalidate = control.NoCache || control.MaxAge == TimeSpan.Zero;
        }
        else if (headers.Pragma.ToString().Contains("no-cache", StringComparison.OrdinalIgnoreCase))
        {
            revalidate = true;
        }

        return new CacheRequest(Lookup: true, MustRevalidate: revalidate, Store: HttpMethods.IsGet(method));
    }

    /// <summary>
    /// The cheap first test of <see cref="ForResponse"/>: an answer without <c>Cache-Control</c> and without
    /// <c>Expires</c> has no explicit freshness, so it is never stored (most answers; docs/resilience.md#cost).
    /// </summary>
    public static bool MayStore(IHeaderDictionary response) => response.CacheControl.Count > 0 || response.Expires.Count > 0;

    /// <summary>
    /// A response a shared cache may keep: a cacheable status; explicit freshness (<c>s-maxage</c>, <c>max-age</c>,
    /// or <c>Expires</c> after <c>Date</c>); not <c>no-store</c>, <c>private</c>, <c>no-cache</c> nor <c>Vary: *</c>; to a request
    /// with <c>Authorization</c> only with <c>public</c>, <c>s-maxage</c> or <c>must-revalidate</c>; and without <c>Set-Cookie</c>
    /// (one caller's cookie is never handed to another).
    /// </summary>
    public static CacheVerdict ForResponse(int status, IHeaderDictionary response, bool requestHadAuthorization, DateTimeOffset now)
    {
        if (Array.IndexOf(CacheableStatuses, status) < 0 || response.ContainsKey(HeaderNames.SetCookie))
        {
            return default;
        }

        if (response.Vary.ToString().Contains('*', StringComparison.Ordinal))
        {
            return default;
        }

        CacheControlHeaderValue? control = null;
        if (response.CacheControl.Count > 0 && !CacheControlHeaderValue.TryParse(response.CacheControl.ToString(), out control))
        {
            return default; // unreadable: not stored
        }

        if (control is { NoStore: true } or { Private: true } or { NoCache: true })
        {
            return default;
        }

        var allowsAuthorized = control is { Public: true } or { SharedMaxAge: not null } or { MustRevalidate: true };
        if (requestHadAuthorization && !allowsAuthorized)
        {
            return default;
        }

        var freshness = Freshness(control, response, now);
        return freshness is { } lifetime && lifetime > TimeSpan.Zero
            ? new CacheVerdict(true, lifetime, allowsAuthorized)
            : default;
    }

    /// <summary>The freshness lifetime (RFC 9111 4.2.1): <c>s-maxage</c>, then <c>max-age</c>, then <c>Expires</c> minus <c>Date</c>.</summary>
    public static TimeSpan? Freshness(CacheControlHeaderValue? control, IHeaderDictionary response, DateTimeOffset now)
    {
        if (control?.SharedMaxAge is { } shared)
        {
            return shared;
        }

        if (control?.MaxAge is { } max)
        {
            return max;
        }

        if (response.Expires.Count == 0)
        {
            return null;
        }

        // An invalid Expires (0, a bad date) means already expired (RFC 9111 5.3).
        if (!HeaderUtilities.TryParseDate(response.Expires.ToString(), out var expires))
        {
            return TimeSpan.Zero;
        }

        var date = HeaderUtilities.TryParseDate(response.Date.ToString(), out var d) ? d : now;
        return expires - date;
    }

    /// <summary>The <c>Age</c> the upstream gave (RFC 9111 5.1), zero when none or unreadable.</summary>
    public static TimeSpan Age(IHeaderDictionary response) =>
        long.TryParse(response.Age.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) ? TimeSpan.FromSeconds(seconds) : TimeSpan.Zero;
}

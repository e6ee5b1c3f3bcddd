using Microsoft.AspNetCore.Http;
using Sidecar.Forwarding;

namespace Sidecar.Tests.Forwarding;

/// <summary>The shared-cache rules (RFC 9111) as a table: headers in, decision out (docs/resilience.md#response-cache).</summary>
[Trait("Category", "Unit")]
public sealed class CacheRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    /// <summary>status, response headers ("Name: value|Name: value"), request had Authorization, expected freshness in seconds (-1: not stored).</summary>
    public static TheoryData<int, string, bool, int> Responses() => new()
    {
        { 200, "Cache-Control: max-age=60", false, 60 },
        { 200, "Cache-Control: max-age=60, s-maxage=10", false, 10 },
        { 200, "Expires: Wed, 02 Dec 2026 12:05:00 GMT|Date: Wed, 02 Dec 2026 12:00:00 GMT", false, 300 },
        { 200, "Expires: 0", false, -1 },
        { 200, "", false, -1 },
        { 200, "Cache-Control: public", false, -1 },
        { 200, "Cache-Control: private, max-age=60", false, -1 },
        { 200, "Cache-Control: no-store, max-age=60", false, -1 },
        { 200, "Cache-Control: no-cache, max-age=60", false, -1 },
        { 200, "Cache-Control: max-age=60|Vary: Accept, *", false, -1 },
        { 200, "Cache-Control: max-age=60|Set-Cookie: a=1", false, -1 },
        { 200, "Cache-Control: max-age=60", true, -1 },
        { 200, "Cache-Control: public, max-age=60", true, 60 },
        { 200, "Cache-Control: s-maxage=30", true, 30 },
        { 404, "Cache-Control: max-age=5", false, 5 },
        { 500, "Cache-Control: max-age=60", false, -1 },
        { 206, "Cache-Control: max-age=60", false, -1 },
        { 302, "Cache-Control: max-age=60", false, -1 },
    };

    [Theory]
    [MemberData(nameof(Responses))]
    public void ForResponse_FollowsTheSharedCacheRules(int status, string headers, bool authorization, int expected)
    {
        var response = new HeaderDictionary();
        foreach (var line in headers.Split('|', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            response.Append(line[..colon], line[(colon + 1)..].Trim());
        }

        var verdict = CacheRules.ForResponse(status, response, authorization, Now);

        Assert.Equal(expected >= 0, verdict.Storable);
        if (expected >= 0)
        {
            Assert.Equal(TimeSpan.FromSeconds(expected), verdict.Freshness);
        }
    }

    /// <summary>method, request headers, expected: "-" not looked up, "hit" may be served, "revalidate", and whether it may be stored.</summary>
    public static TheoryData<string, string, string, bool> Requests() => new()
    {
        { "GET", "", "hit", true },
        { "HEAD", "", "hit", false },
        { "POST", "", "-", false },
        { "GET", "Cache-Control: no-cache", "revalidate", true },
        { "GET", "Cache-Control: max-age=0", "revalidate", true },
        { "GET", "Pragma: no-cache", "revalidate", true },
        { "GET", "Cache-Control: no-store", "-", false },
        { "GET", "If-None-Match: \"x\"", "-", false },
        { "GET", "If-Modified-Since: Wed, 02 Dec 2026 12:00:00 GMT", "-", false },
        { "GET", "Range: bytes=0-10", "-", false },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void ForRequest_SaysWhetherTheCacheMayAnswer(string method, string header, string expected, bool store)
    {
        var headers = new HeaderDictionary();
        if (header.Length > 0)
        {
            var colon = header.IndexOf(':', StringComparison.Ordinal);
            headers.Append(header[..colon], header[(colon + 1)..].Trim());
        }

        var ask = CacheRules.ForRequest(method, headers);

        Assert.Equal(expected, !ask.Lookup ? "-" : ask.MustRevalidate ? "revalidate" : "hit");
        Assert.Equal(store, ask.Store);
    }
}

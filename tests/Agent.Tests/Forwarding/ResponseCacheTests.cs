using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Sidecar.Forwarding;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Observability;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>Issue 17, point 5: the response cache end to end, with a real upstream and a FakeTimeProvider (docs/resilience.md#response-cache).</summary>
public sealed class ResponseCacheTests
{
    private static Task<AgentHarness> StartAsync(Upstream orders, FakeTimeProvider time, params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string?>
        {
            ["ROUTES"] = $"orders={orders.Url}", ["SIDECAR_LOG_LEVEL"] = "warning", ["Forwarding__Services__orders__Cache"] = "true",
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return AgentHarness.StartAsync(environment, services => services.AddSingleton<TimeProvider>(time));
    }

    /// <summary>An upstream whose answers carry the given headers and a body naming the request's number.</summary>
    private static Task<Upstream> StartUpstreamAsync(params (string Name, string Value)[] headers) =>
        Upstream.StartAsync("orders", async (context, n) =>
        {
            foreach (var (name, value) in headers)
            {
                context.Response.Headers.Append(name, value);
            }

            if (context.Request.Headers.IfNoneMatch == "\"v1\"")
            {
                context.Response.StatusCode = 304;
                return;
            }

            await context.Response.WriteAsync($"answer {n} {context.Request.Headers.AcceptLanguage}");
        });

    private static async Task<(HttpStatusCode Status, string Body, TimeSpan? Age)> GetAsync(AgentHarness agent, string path = "v1/invoke/orders/items?x=1", params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await agent.Client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.Age);
    }

    [Fact]
    public async Task AFreshAnswer_IsServedFromTheCache_WithItsAge_AndHeadToo()
    {
        var time = RegisteredAgent.NewClock();
        await using var orders = await StartUpstreamAsync(("Cache-Control", "max-age=60"), ("ETag", "\"v1\""));
        await using var agent = await StartAsync(orders, time);

        Assert.Equal((HttpStatusCode.OK, "answer 1 ", null), await GetAsync(agent));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal((HttpStatusCode.OK, "answer 1 ", TimeSpan.FromSeconds(10)), await GetAsync(agent));
        using (var head = await agent.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/invoke/orders/items?x=1")))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(9, head.Content.Headers.ContentLength);
        }

        Assert.Equal(1, orders.Count);
        // Another query is another entry.
        Assert.Equal((HttpStatusCode.OK, "answer 2 ", null), await GetAsync(agent, "v1/invoke/orders/items?x=2"));

        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(2, scrape.Value("sidecar_forward_cache_requests_total", ("service", "orders"), ("result", "hit")));
        Assert.Equal(2, scrape.Value("sidecar_forward_cache_requests_total", ("service", "orders"), ("result", "miss")));
        Assert.Equal(2, scrape.Value("sidecar_forward_cache_entries"));
        Assert.InRange(scrape.Value("sidecar_forward_cache_bytes"), 18, 4096);

        // The status page's hit ratio: 2 of 4.
        using var status = System.Text.Json.JsonDocument.Parse(await agent.Client.GetStringAsync(""));
        var orders2 = status.RootElement.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "orders");
        Assert.Equal(0.5, orders2.GetProperty("resilience").GetProperty("cacheHitRatio").GetDouble());
    }

    [Theory]
    [InlineData("Cache-Control", "private, max-age=60")]
    [InlineData("Cache-Control", "no-store")]
    [InlineData("Cache-Control", "no-cache, max-age=60")]
    [InlineData("Vary", "*")]
    [InlineData("Set-Cookie", "session=1")]
    [InlineData("X-None", "no freshness at all")]
    public async Task AnAnswerHttpDoesNotLetASharedCacheKeep_IsNeverServedFromIt(string name, string value)
    {
        var time = RegisteredAgent.NewClock();
        var headers = name == "Cache-Control" ? new[] { (name, value) } : [(name, value), ("Cache-Control", name == "X-None" ? "public" : "max-age=60")];
        await using var orders = await StartUpstreamAsync(headers);
        await using var agent = await StartAsync(orders, time);

        Assert.Equal("answer 1 ", (await GetAsync(agent)).Body);
        Assert.Equal("answer 2 ", (await GetAsync(agent)).Body);
        Assert.Equal(2, orders.Count);
    }

    [Fact]
    public async Task Authorization_IsCachedOnlyWithPublic()
    {
        var time = RegisteredAgent.NewClock();
        await using var plain = await StartUpstreamAsync(("Cache-Control", "max-age=60"));
        await using var agent = await StartAsync(plain, time);

        await GetAsync(agent, headers: ("Authorization", "Bearer a"));
        Assert.Equal("answer 2 ", (await GetAsync(agent, headers: ("Authorization", "Bearer a"))).Body);

        await using var open = await StartUpstreamAsync(("Cache-Control", "public, max-age=60"));
        await using var agent2 = await StartAsync(open, time);
        await GetAsync(agent2, headers: ("Authorization", "Bearer a"));
        Assert.Equal("answer 1 ", (await GetAsync(agent2, headers: ("Authorization", "Bearer b"))).Body);
        Assert.Equal(1, open.Count);
    }

    [Fact]
    public async Task NoCache_AndStaleEntries_AreRevalidatedWithTheETag_A304ServesTheStoredBody()
    {
        var time = RegisteredAgent.NewClock();
        await using var orders = await StartUpstreamAsync(("Cache-Control", "max-age=60"), ("ETag", "\"v1\""));
        await using var agent = await StartAsync(orders, time);

        await GetAsync(agent);
        var revalidated = await GetAsync(agent, headers: ("Cache-Control", "no-cache"));
        Assert.Equal((HttpStatusCode.OK, "answer 1 ", TimeSpan.Zero), revalidated);
        Assert.Equal(2, orders.Count);
        Assert.Equal("\"v1\"", orders.Last.Headers["If-None-Match"]);

        // Fresh again after the 304: served without a call; then stale after max-age: revalidated again.
        Assert.Equal("answer 1 ", (await GetAsync(agent)).Body);
        Assert.Equal(2, orders.Count);
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal((HttpStatusCode.OK, "answer 1 ", TimeSpan.Zero), await GetAsync(agent));
        Assert.Equal(3, orders.Count);

        var scrape = await Scrape.TakeAsync(agent);
        Assert.Equal(2, scrape.Value("sidecar_forward_cache_requests_total", ("service", "orders"), ("result", "revalidated")));
    }

    [Fact]
    public async Task AnUnsafeMethodToTheSameUri_Invalidates()
    {
        var time = RegisteredAgent.NewClock();
        await using var orders = await StartUpstreamAsync(("Cache-Control", "max-age=60"));
        await using var agent = await StartAsync(orders, time);

        await GetAsync(agent);
        await GetAsync(agent, "v1/invoke/orders/other");
        Assert.Equal(2, orders.Count);
        using (var post = await agent.Client.PostAsync("v1/invoke/orders/items?x=1", new StringContent("new")))
        {
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        }

        Assert.Equal("answer 4 ", (await GetAsync(agent)).Body); // 3 was the POST
        Assert.Equal("answer 2 ", (await GetAsync(agent, "v1/invoke/orders/other")).Body); // another URI: kept
    }

    [Fact]
    public async Task VaryHeaders_AreItsKey()
    {
        var time = RegisteredAgent.NewClock();
        await using var orders = await StartUpstreamAsync(("Cache-Control", "max-age=60"), ("Vary", "Accept-Language"));
        await using var agent = await StartAsync(orders, time);

        Assert.Equal("answer 1 fr", (await GetAsync(agent, headers: ("Accept-Language", "fr"))).Body);
        Assert.Equal("answer 2 de", (await GetAsync(agent, headers: ("Accept-Language", "de"))).Body);
        Assert.Equal("answer 1 fr", (await GetAsync(agent, headers: ("Accept-Language", "fr"))).Body);
        Assert.Equal("answer 2 de", (await GetAsync(agent, headers: ("Accept-Language", "de"))).Body);
        Assert.Equal(2, orders.Count);
    }

    [Fact]
    public async Task MemoryIsBounded_TheLeastRecentlyUsedAnswersAreEvicted()
    {
        var time = RegisteredAgent.NewClock();
        var body = new string('x', 6000);
        await using var orders = await Upstream.StartAsync("orders", async (context, n) =>
        {
            context.Response.Headers.CacheControl = "max-age=600";
            await context.Response.WriteAsync(body);
        });
        await using var agent = await StartAsync(orders, time, ("Forwarding__CacheMaxBytes", "64KiB"));
        var cache = agent.Get<ServicePools>().Cache;

        for (var i = 0; i < 20; i++)
        {
            await GetAsync(agent, $"v1/invoke/orders/p{i}");
            if (i == 5)
            {
                await GetAsync(agent, "v1/invoke/orders/p0"); // used again: not the least recent any more
            }
        }

        Assert.Equal(20, orders.Count);
        Assert.InRange(cache.Bytes, 1, 64 * 1024);
        Assert.InRange(cache.Count, 5, 10);
        Assert.True(cache.Evictions >= 10);
        await GetAsync(agent, "v1/invoke/orders/p19"); // the latest: still there
        Assert.Equal(20, orders.Count);
        await GetAsync(agent, "v1/invoke/orders/p1"); // among the first: evicted
        Assert.Equal(21, orders.Count);

        // An answer over an eighth of the cache is passed on, never stored.
        body = new string('y', 9000);
        await GetAsync(agent, "v1/invoke/orders/big");
        await GetAsync(agent, "v1/invoke/orders/big");
        Assert.Equal(23, orders.Count);
    }
}

using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Sidecar.Health;
using Sidecar.Hosting;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.AppConfig;

/// <summary>
/// Long-polls while the agent stops: held through the drain (the agent still serves then), released
/// when it stops serving, and a late one sent to its back-off, so a client that polls again after
/// each answer never floods the agent.
/// </summary>
public sealed class LongPollShutdownTests
{
    private const string Id = "host-a:orders:8080";

    [Fact]
    public async Task Stop_HoldsLongPollsThroughTheDrain_AndReleasesThemWhenServingEnds()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var time = RegisteredAgent.NewClock();
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        environment["SIDECAR_DRAIN"] = "7s"; // a due time no other timer of the agent has (the observer sleeps 5 s, the renewals 30 s)
        var agent = await RegisteredAgent.StartAsync(environment, time);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = agent.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "the agent registered");
        var etag = (await ConfigTestSupport.GetConfigAsync(client)).ETag;
        // A wait no timer of the agent's own has (its renewals are every 30 s): armed, it is a long-poll that waits.
        static bool LongPollWait(TimeSpan due) => due == TimeSpan.FromSeconds(42);
        var early = LongPollAsync(client, etag, "42s");
        await time.WaitForArmedAsync(LongPollWait, 1, "the long-poll reached the agent and waits");

        static bool DrainWait(TimeSpan due) => due == TimeSpan.FromSeconds(7);
        var otherSevens = time.Armed(DrainWait);
        var stopping = agent.DisposeAsync().AsTask(); // what SIGTERM does: ApplicationStopping, then the drain
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.OutOfService, "the drain began");

        // ApplicationStopping has fired: long-polls still wait, the early one and a new one alike.
        var during = LongPollAsync(client, etag, "42s");

        // Plain reads are answered as ever. On a client of its own: on the long-polls' client the read can wait for one
        // of their connections (both held until the drain ends), which a whole-suite run once showed as a 10 s time-out.
        using var reader = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = agent.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        await ConfigTestSupport.GetConfigAsync(reader).WaitAsync(TimeSpan.FromSeconds(10));
        await time.WaitForArmedAsync(LongPollWait, 2, "both long-polls wait: the early one's timer still armed, the new one's armed");
        Assert.False(early.IsCompleted, "the long-poll was answered at the start of the drain");
        Assert.False(during.IsCompleted, "a long-poll during the drain was answered at once");

        // The drain's wait is armed after OUT_OF_SERVICE reached Eureka: a clock moved before it would never end the
        // drain (a fresh clone's whole-suite run found it so, the long-polls then held past the 10 s below). The drain's
        // due time is one no other timer has: with 5 s, the observer's sampling sleep counted as the drain's wait, and a
        // loaded run (CI) moved the clock before the drain armed its own.
        await time.WaitForArmedAsync(DrainWait, otherSevens + 1, "the drain's wait is armed");
        time.Advance(TimeSpan.FromSeconds(7)); // the drain ends: the agent stops serving

        foreach (var poll in new[] { early, during })
        {
            using var response = await poll.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
            Assert.True(response.Headers.ConnectionClose, "released with Connection: close");
        }

        await stopping.WaitAsync(TimeSpan.FromSeconds(10)); // and they never held the server's stop
    }

    [Fact]
    public async Task ALongPollAfterServingEnded_Gets503WithRetryAfter_NotAnImmediate304()
    {
        using var support = new ConfigTestSupport();
        await using var agent = await support.StartAgentAsync(support.Environment(null));
        var etag = (await ConfigTestSupport.GetConfigAsync(agent.Client)).ETag;

        // The moment between the release and the listener closing.
        await agent.Get<ServingLifetime>().StoppingAsync(default);

        using var response = await LongPollAsync(agent.Client, etag).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("shutting-down", response.Headers.GetValues("X-Sidecar-Error").Single());
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        Assert.True(response.Headers.ConnectionClose);

        // Without a wait, or for a changed config, the answer is the usual one.
        Assert.Equal(etag, (await ConfigTestSupport.GetConfigAsync(agent.Client)).ETag);
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/config");
        request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(etag));
        using var plain = await agent.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, plain.StatusCode);
    }

    [Fact]
    public async Task SigTerm_AClientThatPollsAgainAfterEach304_MakesABoundedNumberOfRequests()
    {
        await using var eureka = await FakeEureka.StartAsync();
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["APP_NAME"] = "orders",
            ["APP_PORT"] = "8080",
            ["APP_HOST"] = "host-a",
            ["APP_HEALTH_URL"] = "",
            ["EUREKA_URLS"] = eureka.ServiceUrl.AbsoluteUri,
            ["SIDECAR_PORT"] = "0",
            ["SIDECAR_DRAIN"] = "2s",
            ["SIDECAR_DATA_DIR"] = RegisteredAgent.NewDataDir(),
        });
        var port = (await agent.WaitForApiAsync()).Port; // port 0: the one the agent bound
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(40) };
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.Up, "the agent registered", TimeSpan.FromSeconds(20));
        var etag = (await ConfigTestSupport.GetConfigAsync(client)).ETag;

        // The example apps' loop: poll again at once after a 304 or a 200, back off on anything else, stop when the agent is gone.
        var requests = 0;
        var answers = new List<(HttpStatusCode Status, DateTimeOffset At)>();
        using var loopEnd = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var loop = Task.Run(async () =>
        {
            while (!loopEnd.IsCancellationRequested)
            {
                Interlocked.Increment(ref requests);
                try
                {
                    using var response = await LongPollAsync(client, etag);
                    lock (answers)
                    {
                        answers.Add((response.StatusCode, DateTimeOffset.UtcNow));
                    }

                    if (response.StatusCode is not (HttpStatusCode.NotModified or HttpStatusCode.OK))
                    {
                        await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(2));
                    }
                }
                catch (HttpRequestException)
                {
                    return; // the listener is closed
                }
            }
        });
        await Eventually.TrueAsync(() => Volatile.Read(ref requests) > 0, "the loop is polling");
        await Task.Delay(300); // the first long-poll is held by the agent

        var terminatedAt = DateTimeOffset.UtcNow;
        agent.Terminate();

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        await loop.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(requests <= 4, $"{requests} requests during the shutdown; the first answers: {string.Join(", ", answers.Take(8).Select(a => $"{(int)a.Status} at +{(a.At - terminatedAt).TotalMilliseconds:0} ms"))}");
        var first = answers.First();
        Assert.True(first.At - terminatedAt >= TimeSpan.FromMilliseconds(1800), $"the held long-poll was answered {(first.At - terminatedAt).TotalMilliseconds:0} ms after SIGTERM, within the 2 s drain");
    }

    private static async Task<HttpResponseMessage> LongPollAsync(HttpClient client, string etag, string wait = "30s")
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v1/config?wait={wait}");
        request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(etag));
        return await client.SendAsync(request);
    }
}

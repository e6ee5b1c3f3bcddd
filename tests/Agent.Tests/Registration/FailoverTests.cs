using System.Text;
using Sidecar.Health;
using Sidecar.Registration;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

/// <summary>Several Eureka servers: in order, sticky to the last good one, Basic auth, the wire details every request carries.</summary>
public sealed class FailoverTests
{
    private const string Id = "host-a:orders:8080";

    [Fact]
    public async Task FirstServerDown_RegistersWithTheSecond_StaysThere_AndGoesBackWhenTheSecondFails()
    {
        var time = RegisteredAgent.NewClock();
        await using var first = await FakeEureka.StartAsync(time);
        await using var second = await FakeEureka.StartAsync(time);
        await first.DownAsync();
        var environment = RegisteredAgent.Environment(first, second);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment, time);

        // The server stores the instance before the agent reads its answer: wait for the agent's side too.
        await Eventually.TrueAsync(() => second.Instance("ORDERS", Id) is not null && agent.Get<EurekaHttpClient>().Current is not null,
            "the agent registered with the second server");
        Assert.Equal(second.ServiceUrl.AbsoluteUri, agent.Get<EurekaHttpClient>().Current?.Display);

        // The first is back: renewals stay with the second (sticky), they do not wander back.
        await first.RestartAsync(empty: true);
        second.ClearRequests();
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => second.RequestsFor("PUT").Count >= 1, "a renew reached the second server");
        Assert.DoesNotContain(first.Requests, r => r.Method is "PUT" or "POST");

        // The second fails: the next renew fails over to the first, which does not know the lease (404), so the agent registers there.
        await second.DownAsync();
        await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30),
            () => first.Instance("ORDERS", Id) is not null && agent.Get<EurekaHttpClient>().Current?.Display == first.ServiceUrl.AbsoluteUri,
            "the agent registered with the first server");
        Assert.Equal(["PUT 404", "POST 204"], first.Requests.Where(r => r.Method is "PUT" or "POST").Select(r => $"{r.Method} {r.StatusCode}"));
        Assert.Equal(first.ServiceUrl.AbsoluteUri, agent.Get<EurekaHttpClient>().Current?.Display);
    }

    [Fact]
    public async Task AfterAFailover_TheSessionEnds_AndTheAgentGoesBackToItsOwnFirstServer()
    {
        // Netflix's SessionedEurekaHttpClient: a session lasts the reconnect interval ±50%, then the client starts anew.
        var time = RegisteredAgent.NewClock();
        await using var first = await FakeEureka.StartAsync(time);
        await using var second = await FakeEureka.StartAsync(time);
        await first.DownAsync();
        var environment = RegisteredAgent.Environment(first, second);
        environment["APP_HEALTH_URL"] = "";
        environment["Eureka__SessionReconnectInterval"] = "2m";
        await using var agent = await RegisteredAgent.StartAsync(environment, time);
        await Eventually.TrueAsync(() => agent.Get<EurekaHttpClient>().Current?.Display == second.ServiceUrl.AbsoluteUri, "the agent settled on the second server");
        await first.RestartAsync(empty: true);

        var took = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromMinutes(4),
            () => first.Instance("ORDERS", Id) is not null && agent.Get<EurekaHttpClient>().Current?.Display == first.ServiceUrl.AbsoluteUri,
            "the agent went back to its first server", step: TimeSpan.FromSeconds(30));

        Assert.InRange(took, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(3.5)); // the session (1 to 3 minutes) ended first
        Assert.Equal(["PUT 404", "POST 204"], first.Requests.Where(r => r.Method is "PUT" or "POST").Select(r => $"{r.Method} {r.StatusCode}"));
    }

    [Fact]
    public async Task AServerAnswering500_IsFailedOver_WithinOneOperation()
    {
        await using var first = await FakeEureka.StartAsync();
        await using var second = await FakeEureka.StartAsync();
        first.Fail500 = true;
        var environment = RegisteredAgent.Environment(first, second);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment);

        await Eventually.TrueAsync(() => second.Instance("ORDERS", Id) is not null, "the agent registered with the second server");

        // The registry's first fetch runs beside the registration: whichever reaches the first server gets its 500 and goes
        // on to the second within that operation, and the session then stays there (a POST never reaching the first server
        // when the fetch came first). Each operation that tried the first server tried it once.
        var tried = first.Requests;
        Assert.NotEmpty(tried);
        Assert.All(tried, r => Assert.Equal(500, r.StatusCode));
        Assert.Equal(tried.Count, tried.Select(r => (r.Method, r.Path)).Distinct().Count());
    }

    [Fact]
    public async Task AHangingServer_IsGivenUpAfterTheReadTimeout()
    {
        await using var first = await FakeEureka.StartAsync();
        await using var second = await FakeEureka.StartAsync();
        first.Hang = true;
        var environment = RegisteredAgent.Environment(first, second);
        environment["APP_HEALTH_URL"] = "";
        environment["Eureka__ReadTimeout"] = "300ms";
        await using var agent = await RegisteredAgent.StartAsync(environment);

        await Eventually.TrueAsync(() => second.Instance("ORDERS", Id) is not null, "the agent registered with the second server");
    }

    [Fact]
    public async Task EveryRequest_CarriesBasicAuthFromTheUserinfo_AcceptJson_AndAnEncodedId()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";

        // No trailing slash, and a password with an escaped '@'.
        environment["EUREKA_URLS"] = $"http://eureka-user:p%40ss@127.0.0.1:{eureka.Port}/eureka";
        await using var agent = await RegisteredAgent.StartAsync(environment);
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id) is not null, "the agent registered");
        using var _ = await agent.Client.PutAsync("v1/registration/status", new StringContent("""{"status":"OUT_OF_SERVICE"}"""));
        await Eventually.TrueAsync(() => eureka.Instance("ORDERS", Id)?.Status == InstanceStatus.OutOfService, "OUT_OF_SERVICE reached Eureka");

        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("eureka-user:p@ss"));
        Assert.All(eureka.Requests, r =>
        {
            Assert.Equal(expected, r.Authorization);
            Assert.Equal("application/json", r.Accept);
            Assert.StartsWith("/eureka/apps", r.RawTarget, StringComparison.Ordinal);
        });
        Assert.Contains(eureka.Requests, r => r.RawTarget == "/eureka/apps/");
        Assert.StartsWith("/eureka/apps/ORDERS/host-a%3Aorders%3A8080/status?", Assert.Single(eureka.RequestsFor("PUT", "/status")).RawTarget, StringComparison.Ordinal);
        Assert.DoesNotContain("p@ss", agent.Get<EurekaHttpClient>().Current!.Display, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryServerDown_LeavesTheAgentServing_AndReportsWhy()
    {
        await using var first = await FakeEureka.StartAsync();
        await using var second = await FakeEureka.StartAsync();
        await first.DownAsync();
        await second.DownAsync();
        var environment = RegisteredAgent.Environment(first, second);
        environment["APP_HEALTH_URL"] = "";
        await using var agent = await RegisteredAgent.StartAsync(environment);

        await Eventually.TrueAsync(() => agent.Get<EurekaRegistrationService>().Check().Detail.Contains("connection refused", StringComparison.Ordinal), "registration failed");
        Assert.Equal("pong", await agent.Client.GetStringAsync("ping"));
        Assert.False(agent.Get<EurekaRegistrationService>().Check().Ready);
    }

    [Theory]
    [InlineData("Register", 204, true)]
    [InlineData("Register", 404, true)]
    [InlineData("Register", 500, false)]
    [InlineData("Register", 400, false)]
    [InlineData("Renew", 404, true)]
    [InlineData("Renew", 503, false)]
    [InlineData("Cancel", 500, true)]
    [InlineData("GetDelta", 403, true)]
    [InlineData("GetApplications", 403, false)]
    public void TheServerStatusEvaluator_DecidesWhatEndsTheFailover(string operation, int statusCode, bool accepted)
    {
        Assert.Equal(accepted, EurekaHttpClient.IsAccepted(Enum.Parse<EurekaOperation>(operation), statusCode));
    }
}

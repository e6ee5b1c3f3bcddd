using System.Net;
using System.Text.Json;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Health;

/// <summary>The real agent probing a real app on loopback, observed through its routes.</summary>
public sealed class HealthApiTests : IAsyncLifetime
{
    private FakeApp _app = null!;
    private AgentHarness _agent = null!;

    public async Task InitializeAsync()
    {
        _app = await FakeApp.StartAsync();
        _agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_PORT"] = _app.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["APP_HEALTH_INTERVAL"] = "100ms",
            ["APP_HEALTH_TIMEOUT"] = "300ms",
            ["APP_HEALTH_FAILURE_THRESHOLD"] = "2",
        });
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Healthcheck_FollowsTheAppThrough200_500_Slow_Closed_AndBack()
    {
        await WaitForHealthcheckAsync(HttpStatusCode.OK, "the app answers 200");
        await AssertHealthAsync("UP", "200 OK status UP");

        _app.Mode = "error";
        await WaitForHealthcheckAsync(HttpStatusCode.ServiceUnavailable, "the app answers 500");
        await AssertHealthAsync("DOWN", "500 Internal Server Error");

        _app.Mode = "ok";
        await WaitForHealthcheckAsync(HttpStatusCode.OK, "one success brings it back");

        _app.Mode = "slow";
        await WaitForHealthcheckAsync(HttpStatusCode.ServiceUnavailable, "the app hangs past the probe time-out");
        await AssertHealthAsync("DOWN", "timed out after 300ms");

        _app.Mode = "ok";
        await WaitForHealthcheckAsync(HttpStatusCode.OK, "the app answers again");

        await _app.CloseAsync();
        await WaitForHealthcheckAsync(HttpStatusCode.ServiceUnavailable, "the app is closed");
        await AssertHealthAsync("DOWN", "connection refused");

        await _app.OpenAsync();
        await WaitForHealthcheckAsync(HttpStatusCode.OK, "the app is open again");
    }

    [Fact]
    public async Task Healthcheck_NeverWaitsForAHangingApp()
    {
        await WaitForHealthcheckAsync(HttpStatusCode.OK, "the app is up");
        _app.Mode = "slow";

        // Asking the app would hold every answer for the probe's time-out (300 ms) at least; from state, an answer takes a
        // few ms. Most, not all, must be fast: a loaded machine (a clean clone's full run) once held one past 250 ms.
        var times = new List<TimeSpan>();
        for (var i = 0; i < 20; i++)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            using var response = await _agent.Client.GetAsync("/healthcheck");
            times.Add(System.Diagnostics.Stopwatch.GetElapsedTime(started));
            await Task.Delay(25);
        }

        var fast = times.Count(t => t < TimeSpan.FromMilliseconds(250));
        Assert.True(fast >= 15, $"answered from state, not by asking the app: {fast} of 20 answers within 250 ms ({string.Join(", ", times.Select(t => $"{t.TotalMilliseconds:0}"))} ms)");
    }

    [Fact]
    public async Task Healthcheck_AnAppDeclaringDownInItsBody_IsDown()
    {
        await WaitForHealthcheckAsync(HttpStatusCode.OK, "the app is up");
        _app.Mode = "down-json";

        await WaitForHealthcheckAsync(HttpStatusCode.ServiceUnavailable, "the app declares DOWN");
        await AssertHealthAsync("DOWN", "200 OK status DOWN");
    }

    [Fact]
    public async Task Ready_Follows_TheAppHealth_AndLiveStaysUp()
    {
        await WaitForHealthcheckAsync(HttpStatusCode.OK, "the app is up");
        Assert.Equal(HttpStatusCode.OK, (await _agent.Client.GetAsync("/v1/health/ready")).StatusCode);

        _app.Mode = "error";
        await WaitForHealthcheckAsync(HttpStatusCode.ServiceUnavailable, "the app fails");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await _agent.Client.GetAsync("/v1/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _agent.Client.GetAsync("/v1/health/live")).StatusCode);
    }

    private Task WaitForHealthcheckAsync(HttpStatusCode expected, string because) =>
        Eventually.TrueAsync(async () =>
        {
            using var response = await _agent.Client.GetAsync("/healthcheck");
            return response.StatusCode == expected;
        }, $"/healthcheck answers {(int)expected} when {because}");

    private async Task AssertHealthAsync(string status, string lastResult)
    {
        using var document = JsonDocument.Parse(await _agent.Client.GetStringAsync("/v1/health"));
        var root = document.RootElement;
        Assert.Equal(status, root.GetProperty("status").GetString());
        Assert.Equal(lastResult, root.GetProperty("lastProbeResult").GetString());
        Assert.Equal(_app.HealthUrl.ToString(), root.GetProperty("probe").GetString());
        Assert.Equal(JsonValueKind.String, root.GetProperty("lastProbeTime").ValueKind);
        Assert.Equal(Sidecar.Platform.AgentIndexApi.Version, root.GetProperty("version").GetString());
        Assert.Equal(Sidecar.Platform.AgentIndexApi.Commit, root.GetProperty("commit").GetString());
        if (status == "UP")
        {
            Assert.Equal(0, root.GetProperty("consecutiveFailures").GetInt32());
        }
        else
        {
            Assert.True(root.GetProperty("consecutiveFailures").GetInt32() >= 1);
        }
    }
}

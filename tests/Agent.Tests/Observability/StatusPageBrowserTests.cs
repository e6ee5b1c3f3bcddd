using System.Text.RegularExpressions;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Forwarding;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Observability;

/// <summary>
/// The status page in a real browser (headless chromium) against a running agent with a fake app
/// and fake upstreams, one instance ejected: what a person sees, after the page's script ran.
/// The screenshot is kept at <c>TestResults/status-page.png</c> beside the test binaries.
/// </summary>
public sealed partial class StatusPageBrowserTests
{
    [ChromiumFact]
    public async Task AnOperator_SeesHealth_Instances_AndTheEjectedOne()
    {
        await using var app = await FakeApp.StartAsync();
        await using var a = await Upstream.StartAsync("orders-a");
        await using var b = await Upstream.StartAsync("orders-b");
        var deadPort = LoopbackServer.RefusingPort();
        using var support = new Sidecar.Tests.AppConfig.ConfigTestSupport();
        var file = support.WriteFile("app.json", """{"db":{"url":"postgres://db/orders","password":"hunter2"},"feature":{"beta":"on"}}""");
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?>
        {
            ["APP_NAME"] = "billing",
            ["ROUTES"] = $"orders={a.Url};{b.Url};http://127.0.0.1:{deadPort},users={a.Url}",
            ["APP_HEALTH_URL"] = app.HealthUrl.ToString(),
            ["APP_HEALTH_INTERVAL"] = "200ms",
            ["CONFIG_FILE"] = file,
            ["Forwarding__EjectionFailures"] = "2",
            ["SIDECAR_TCP_LISTENERS"] = "0=users",
        });
        await Eventually.TrueAsync(async () => (await agent.Client.GetStringAsync("v1/health")).Contains("\"status\":\"UP\"", StringComparison.Ordinal), "the app is UP");
        for (var i = 0; i < 40 && !(await agent.Client.GetStringAsync("/")).Contains("\"state\":\"ejected\"", StringComparison.Ordinal); i++)
        {
            await agent.Client.GetAsync("v1/invoke/orders/x");
        }

        // The DOM after the page's script ran (virtual time: the refresh fires without waiting for real seconds).
        var dom = await Chromium.RunAsync(agent.BaseUri, "--virtual-time-budget=5000", "--dump-dom");

        Assert.Matches("id=\"health-status\"[^>]*>UP<", dom);
        Assert.Contains("app billing", dom, StringComparison.Ordinal);
        var rows = InstanceRow().Matches(dom).Select(m => (Id: m.Groups["id"].Value, State: m.Groups["state"].Value)).ToList();
        Assert.Contains(($"127.0.0.1:{a.Port}", "in rotation"), rows);
        Assert.Contains(($"127.0.0.1:{b.Port}", "in rotation"), rows);
        Assert.Contains(($"127.0.0.1:{deadPort}", "ejected"), rows);
        Assert.Matches($"data-instance=\"127.0.0.1:{deadPort}\"[^>]*>.*?EJECTED", dom);
        Assert.Contains("data-service=\"users\"", dom, StringComparison.Ordinal);
        Assert.Matches("<section id=\"tcp\"[^>]*><h2>TCP listeners \\(1\\)</h2>.*?data-tcp-service=\"users\"", dom); // the TCP section, after the refresh too
        Assert.DoesNotContain("hunter2", dom, StringComparison.Ordinal);
        Assert.Matches("data-refreshes=\"[1-9][0-9]*\"", dom); // the live refresh replaced the content without a reload
        Assert.Matches("<span id=\"updated\"[^>]*>live: updated [^<]+</span>", dom); // the rendered stamp, not the script's text

        // Issue 17: the charts of the last 15 minutes of each called service, drawn from the agent's ring.
        foreach (var chart in new[] { "requests", "errors", "p99", "rejections" })
        {
            Assert.Contains($"data-chart=\"{chart}\"", dom, StringComparison.Ordinal);
        }

        var requests = ChartPoints().Match(dom);
        Assert.True(requests.Success, "the requests chart has a line");
        var ys = requests.Groups["points"].Value.Split(' ').Select(p => double.Parse(p.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(60, ys.Count);
        Assert.Contains(2.0, ys); // the busiest slot reaches the top: the calls above were drawn

        var folder = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "TestResults"));
        var screenshot = Path.Combine(folder.FullName, "status-page.png");
        File.Delete(screenshot);
        await Chromium.RunAsync(agent.BaseUri, "--window-size=1280,1600", "--hide-scrollbars", "--screenshot=" + screenshot);

        var png = await File.ReadAllBytesAsync(screenshot);
        Assert.True(png.Length > 10_000, $"a real screenshot at {screenshot}");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
    }

    [GeneratedRegex("data-chart=\"requests\"><svg[^>]*><polyline[^>]*points=\"(?<points>[^\"]+)\"")]
    private static partial Regex ChartPoints();

    [GeneratedRegex("data-instance=\"(?<id>[^\"]+)\" data-state=\"(?<state>[^\"]+)\"")]
    private static partial Regex InstanceRow();
}

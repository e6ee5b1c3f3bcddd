using Microsoft.AspNetCore.Http;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// Issue 13, point 7, in a real browser (headless chromium): a page served from another port of
/// 127.0.0.1 (the same site as the agent, not the same origin) sends the requests a page can send
/// without asking (no-cors POSTs, which need no preflight) to the agent's forwarding routes. None may
/// reach an instance.
/// </summary>
public sealed class BrowserAttackTests
{
    [ChromiumFact]
    public async Task APageOnAnotherPortOfThisHost_CannotCallServicesThroughTheAgent()
    {
        await using var orders = await Upstream.StartAsync("orders");
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={orders.Url}", ["APP_HEALTH_URL"] = "" });
        var port = agent.BaseUri.Port;
        var sent = 0;
        await using var page = await LoopbackServer.StartAsync(async context =>
        {
            if (context.Request.Path == "/sent")
            {
                Interlocked.Increment(ref sent);
                return;
            }

            context.Response.ContentType = "text/html";
            await context.Response.WriteAsync($$"""
                <!doctype html><html><body><p id="state">sending</p><script>
                const targets = ['http://127.0.0.1:{{port}}/v1/invoke/orders/attack', 'http://localhost:{{port}}/v1/invoke/orders/attack',
                                 'http://127.0.0.1:{{port}}/proxy?vip=orders&path=/attack'];
                Promise.allSettled(targets.map(t => fetch(t, { method: 'POST', mode: 'no-cors', body: 'x', headers: { 'Content-Type': 'text/plain' } })
                    .then(() => fetch('/sent'))))
                  .then(() => { document.getElementById('state').textContent = 'done'; });
                </script></body></html>
                """);
        });

        var dom = await Chromium.RunAsync(page.BaseUri, "--virtual-time-budget=5000", "--dump-dom");

        Assert.Contains(">done<", dom, StringComparison.Ordinal);
        Assert.Equal(3, Volatile.Read(ref sent)); // the browser did send all three (an opaque answer resolves the fetch)
        Assert.Equal(0, orders.Count);
    }
}

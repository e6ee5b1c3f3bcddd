using System.Globalization;
using System.Text;
using Sidecar.Observability;

namespace Sidecar.Overview;

/// <summary>The status page's sections on forwarding: the services and their instances, charts and admission rules, and the TCP listeners.</summary>
internal static partial class StatusPage
{
    private static void Services(StringBuilder html, AgentStatus status)
    {
        html.Append("<section id=\"services\" class=\"wide\"><h2>Services (").Append(status.Services.Count).Append(")</h2>");
        if (status.Services.Count == 0)
        {
            html.Append("<p class=\"mute\">No service known: set ROUTES or EUREKA_URLS.</p>");
        }

        foreach (var service in status.Services)
        {
            html.Append("<h3 data-service=\"").Append(E(service.Name)).Append("\">").Append(E(service.Name))
                .Append(" <span class=\"mute\">from ").Append(E(service.Source)).Append(" · ").Append(service.Up).Append(" UP");
            if (service.Ejected > 0)
            {
                html.Append(" · <span class=\"badge bad\">").Append(service.Ejected).Append(" ejected</span>");
            }

            html.Append("</span></h3>");
            Resilience(html, service.Resilience);
            Charts(html, service.History);
            html.Append("<table><thead><tr><th>Instance</th><th>Address</th><th>Zone</th><th>Eureka status</th><th>State</th>")
                .Append("<th>In flight</th><th>Requests (1 min)</th><th>Error rate (1 min)</th></tr></thead><tbody>");
            foreach (var instance in service.Instances)
            {
                var rowClass = instance.Ejected ? "ejected" : instance.State == "not UP" ? "notup" : "ok";
                html.Append("<tr class=\"").Append(rowClass).Append("\" data-instance=\"").Append(E(instance.InstanceId))
                    .Append("\" data-state=\"").Append(E(instance.State)).Append("\"><td><code>").Append(E(instance.InstanceId)).Append("</code></td><td>")
                    .Append(E(instance.Address)).Append("</td><td>").Append(E(instance.Zone ?? "")).Append("</td><td>").Append(E(instance.Status)).Append("</td><td>");
                if (instance.Ejected)
                {
                    html.Append("<span class=\"badge bad\">EJECTED</span>");
                    if (instance.EjectedUntil is { } until)
                    {
                        html.Append(" until ").Append(Time(until));
                    }

                    html.Append(" (ejection ").Append(instance.Ejections).Append(')');
                }
                else
                {
                    html.Append(E(instance.State));
                    if (instance.ConsecutiveFailures > 0)
                    {
                        html.Append(" <span class=\"mute\">(").Append(instance.ConsecutiveFailures).Append(" failures in a row)</span>");
                    }
                }

                html.Append("</td><td>").Append(instance.InFlight).Append("</td><td>").Append(instance.RecentRequests).Append("</td><td>")
                    .Append(instance.ErrorRate is { } rate ? Number(rate * 100) + " %" : "–").Append("</td></tr>");
            }

            html.Append("</tbody></table>");
        }

        html.Append("</section>");
    }

    // The last 15 minutes of a called service (ServiceHistory), as four small SVG lines drawn from the
    // ring: people look at a chart before they read a table. Presentation attributes only (the CSP allows no inline style).
    private static void Charts(StringBuilder html, HistoryPoints? history)
    {
        if (history is null)
        {
            return;
        }

        html.Append("<div class=\"charts\">");
        Chart(html, "requests", "requests", history.Requests.Select(v => (double)v).ToArray(), "#0969da", "");
        Chart(html, "errors", "errors (5xx)", history.Errors.Select(v => (double)v).ToArray(), "#cf222e", "");
        Chart(html, "p99", "p99", history.P99Ms.Select(v => v ?? 0).ToArray(), "#8250df", " ms");
        Chart(html, "rejections", "refused", history.Rejections.Select(v => (double)v).ToArray(), "#9a6700", "");
        html.Append("</div>");
    }

    private static void Chart(StringBuilder html, string name, string title, double[] values, string color, string unit)
    {
        const double Width = 150, Height = 34;
        var max = values.Max();
        html.Append("<figure data-chart=\"").Append(name).Append("\"><svg viewBox=\"0 0 150 34\" width=\"150\" height=\"34\" role=\"img\" aria-label=\"")
            .Append(title).Append(", last 15 minutes\"><polyline fill=\"none\" stroke=\"").Append(color).Append("\" stroke-width=\"1.5\" points=\"");
        for (var i = 0; i < values.Length; i++)
        {
            var x = i * Width / (values.Length - 1);
            var y = Height - 2 - (max > 0 ? values[i] / max * (Height - 4) : 0);
            html.Append(i == 0 ? "" : " ").Append(Number(x)).Append(',').Append(Number(y));
        }

        html.Append("\"/></svg><figcaption>").Append(title).Append(" · max ").Append(Number(max))
            .Append(unit.Length > 0 ? unit : $" per {ServiceHistory.SlotSeconds} s").Append("</figcaption></figure>");
    }

    // One line per service with admission rules (docs/resilience.md): breaker state, bulkhead in flight vs limit, rate, refusals.
    private static void Resilience(StringBuilder html, ResilienceEntry? resilience)
    {
        if (resilience is null)
        {
            return;
        }

        html.Append("<p class=\"resilience\">");
        if (resilience.Circuit is { } circuit)
        {
            html.Append("circuit <span class=\"badge ").Append(circuit == "closed" ? "ok" : "bad").Append("\" data-circuit=\"").Append(circuit).Append("\">")
                .Append(circuit).Append("</span> · ");
        }

        if (resilience.InFlight is { } inFlight)
        {
            html.Append("<span data-bulkhead>").Append(inFlight).Append(" / ").Append(resilience.MaxConcurrentRequests).Append(" in flight");
            if (resilience.Queued is > 0)
            {
                html.Append(", ").Append(resilience.Queued).Append(" waiting");
            }

            html.Append("</span> · ");
        }

        if (resilience.RateLimit is { } rate)
        {
            html.Append(rate).Append("/s · ");
        }

        if (resilience.CacheHitRatio is { } ratio)
        {
            html.Append("<span data-cache>cache hits ").Append(Number(ratio * 100)).Append(" %</span> · ");
        }

        html.Append("<span class=\"mute\">refused:");
        foreach (var (code, count) in resilience.Rejected)
        {
            html.Append(' ').Append(code).Append(' ').Append(count);
        }

        html.Append("</span></p>");
    }

    // One row per TCP listener (docs/forwarding.md#tcp-listeners), only when there are some.
    private static void TcpListeners(StringBuilder html, AgentStatus status)
    {
        if (status.TcpListeners.Count == 0)
        {
            return;
        }

        html.Append("<section id=\"tcp\" class=\"wide\"><h2>TCP listeners (").Append(status.TcpListeners.Count).Append(")</h2>")
            .Append("<table><thead><tr><th>Listener</th><th>Service</th><th>Open</th><th>Connections</th><th>App → instance</th><th>Instance → app</th>")
            .Append("<th>Connect failures</th></tr></thead><tbody>");
        foreach (var listener in status.TcpListeners)
        {
            var failed = listener.ConnectFailures.Values.Sum();
            html.Append("<tr data-listener=\"").Append(listener.Port).Append("\" data-tcp-service=\"").Append(E(listener.Service)).Append("\"><td><code>")
                .Append(E(listener.Address)).Append("</code></td><td>").Append(E(listener.Service)).Append("</td><td data-open>").Append(listener.Open)
                .Append("</td><td>").Append(listener.Connections).Append("</td><td>").Append(Bytes(listener.BytesToInstance)).Append("</td><td>")
                .Append(Bytes(listener.BytesToApp)).Append("</td><td data-failures=\"").Append(failed).Append("\">");
            if (failed == 0)
            {
                html.Append('0');
            }
            else
            {
                html.Append("<span class=\"badge bad\">").Append(failed).Append("</span> <span class=\"mute\">");
                foreach (var (reason, count) in listener.ConnectFailures)
                {
                    if (count > 0)
                    {
                        html.Append(' ').Append(E(reason)).Append(' ').Append(count);
                    }
                }

                html.Append("</span>");
            }

            html.Append("</td></tr>");
        }

        html.Append("</tbody></table></section>");
    }

    private static string Bytes(long bytes) => bytes switch
    {
        < 1024 => bytes.ToString(CultureInfo.InvariantCulture) + " B",
        < 1024 * 1024 => Number(bytes / 1024.0) + " KiB",
        < 1024L * 1024 * 1024 => Number(bytes / (1024.0 * 1024)) + " MiB",
        _ => Number(bytes / (1024.0 * 1024 * 1024)) + " GiB",
    };
}

using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Sidecar.Observability;

namespace Sidecar.Overview;

/// <summary>
/// The status page: plain server-rendered HTML and CSS, no external asset (it works offline and
/// from a container with no network). Every value is HTML-encoded (service names, instance ids,
/// metadata and config come from Eureka and the Config Server). A small inline script fetches
/// the live part again (<c>/?view=fragment</c>, rendered by the same code) every
/// <see cref="RefreshSeconds"/> seconds and swaps it in: no full reload. The Content-Security-Policy
/// allows exactly that script and that style sheet (by hash) and connections to the agent itself.
/// </summary>
internal static partial class StatusPage
{
    public const int RefreshSeconds = 2;

    private const string Style = """
        :root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--mute:#57606a;--line:#d0d7de;--bg:#f6f8fa}
        *{box-sizing:border-box}
        body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#fff}
        header{display:flex;align-items:baseline;gap:1rem;flex-wrap:wrap;padding:.8rem 1.2rem;background:#24292f;color:#fff}
        header h1{font-size:1.15rem;margin:0}
        header .sub{color:#d0d7de}
        #updated{margin-left:auto;font-size:.85rem}
        #updated.bad{color:#ff8182;font-weight:600}
        main{padding:1rem 1.2rem;display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(420px,1fr))}
        section{border:1px solid var(--line);border-radius:6px;padding:.8rem 1rem;min-width:0}
        section.wide{grid-column:1/-1}
        h2{font-size:1rem;margin:0 0 .6rem}
        h3{font-size:.95rem;margin:.9rem 0 .3rem}
        table{border-collapse:collapse;width:100%;font-size:.85rem}
        th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}
        th{background:var(--bg);font-weight:600}
        tr.ejected td{background:#ffebe9}
        tr.notup td{color:var(--mute)}
        .badge{display:inline-block;padding:.05rem .5rem;border-radius:1rem;font-weight:600;font-size:.8rem;color:#fff;background:var(--mute)}
        .badge.UP,.badge.ok{background:var(--ok)}
        .badge.DOWN,.badge.bad{background:var(--bad)}
        .badge.STARTING,.badge.OUT_OF_SERVICE,.badge.warn{background:var(--warn)}
        .big{font-size:1.3rem;padding:.1rem .8rem}
        .mute{color:var(--mute)}
        .probes{display:flex;gap:3px;margin:.5rem 0}
        .probes span{width:14px;height:14px;border-radius:2px;background:var(--ok)}
        .probes span.fail{background:var(--bad)}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:0}
        dt{color:var(--mute)}dd{margin:0;overflow-wrap:anywhere}
        code{font-size:.85rem}
        .charts{display:flex;flex-wrap:wrap;gap:.4rem 1rem;margin:.2rem 0 .4rem}
        .charts figure{margin:0;font-size:.75rem;color:var(--mute)}
        .charts svg{display:block;background:var(--bg);border-radius:3px}
        td.t,td.k{white-space:nowrap}
        """;

    private const string Script = """
        (function () {
          var live = document.getElementById('live');
          var stamp = document.getElementById('updated');
          var refreshes = 0;
          function refresh() {
            fetch('/?view=fragment', { headers: { 'Accept': 'text/html' }, cache: 'no-store' })
              .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.text(); })
              .then(function (html) {
                live.innerHTML = html;
                refreshes++;
                document.body.setAttribute('data-refreshes', String(refreshes));
                stamp.textContent = 'live: updated ' + new Date().toLocaleTimeString();
                stamp.className = '';
              })
              .catch(function () { stamp.textContent = 'the agent is not answering: showing the last state'; stamp.className = 'bad'; })
              .then(function () { setTimeout(refresh, REFRESH_MS); });
          }
          setTimeout(refresh, REFRESH_MS);
        })();
        """;

    private static readonly string ScriptText = Script.Replace("REFRESH_MS", (RefreshSeconds * 1000).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    /// <summary>Only the inline style and script above, by hash; fetches to the agent itself; nothing else (no frames, no forms, no plugins).</summary>
    public static readonly string ContentSecurityPolicy =
        $"default-src 'none'; style-src '{Hash(Style)}'; script-src '{Hash(ScriptText)}'; connect-src 'self'; img-src 'self' data:; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /// <summary>The whole page.</summary>
    public static string Render(AgentStatus status)
    {
        var html = new StringBuilder(16 * 1024);
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">")
            .Append("<title>").Append(E(status.App ?? "sidecar-agent")).Append(" · ").Append(E(status.Health.Status)).Append(" · sidecar-agent</title>")
            .Append("<style>").Append(Style).Append("</style></head><body>")
            .Append("<header><h1>sidecar-agent</h1><span class=\"sub\">")
            .Append(status.App is null ? "no APP_NAME" : "app " + E(status.App)).Append(" · version ").Append(E(status.Version))
            .Append("</span><span id=\"updated\">rendered ").Append(Time(status.Time)).Append("</span></header>")
            .Append("<main id=\"live\">");
        RenderContent(html, status);
        html.Append("</main><script>").Append(ScriptText).Append("</script></body></html>");
        return html.ToString();
    }

    /// <summary>The live part only (what the script swaps in).</summary>
    public static string RenderFragment(AgentStatus status)
    {
        var html = new StringBuilder(16 * 1024);
        RenderContent(html, status);
        return html.ToString();
    }

    private static void RenderContent(StringBuilder html, AgentStatus status)
    {
        Health(html, status);
        Registration(html, status);
        Services(html, status);
        TcpListeners(html, status);
        Config(html, status);
        Events(html, status);
    }

    private static void Health(StringBuilder html, AgentStatus status)
    {
        var health = status.Health;
        html.Append("<section id=\"health\"><h2>App health</h2><p><span class=\"badge big ").Append(E(health.Status)).Append("\" id=\"health-status\">")
            .Append(E(health.Status)).Append("</span> since ").Append(Time(health.Since)).Append(' ').Append(Ago(status.Time, health.Since)).Append("</p><dl>")
            .Append("<dt>Probe</dt><dd>").Append(health.ProbeUrl is null ? "off: the app is reported UP" : "<code>" + E(health.ProbeUrl) + "</code>").Append("</dd>");
        if (health.LastProbe is { } last)
        {
            html.Append("<dt>Last probe</dt><dd>").Append(E(health.LastResult ?? "")).Append(", ").Append(Time(last)).Append(' ').Append(Ago(status.Time, last)).Append("</dd>");
        }

        html.Append("<dt>Failures in a row</dt><dd>").Append(health.ConsecutiveFailures).Append("</dd>")
            .Append("<dt>Reported status</dt><dd><span class=\"badge ").Append(E(health.InstanceStatus)).Append("\">").Append(E(health.InstanceStatus)).Append("</span> (Eureka, <code>/status</code>)</dd></dl>");
        if (health.Probes.Count > 0)
        {
            html.Append("<h3>Recent probes</h3><div class=\"probes\" aria-label=\"probe history, oldest first\">");
            for (var i = health.Probes.Count - 1; i >= 0; i--)
            {
                var probe = health.Probes[i];
                html.Append("<span class=\"").Append(probe.Healthy ? "ok" : "fail").Append("\" title=\"")
                    .Append(Time(probe.Time)).Append(": ").Append(E(probe.Detail)).Append("\"></span>");
            }

            html.Append("</div><table><thead><tr><th>Time</th><th>Result</th><th>Took</th><th>Status after</th></tr></thead><tbody>");
            for (var i = 0; i < Math.Min(5, health.Probes.Count); i++)
            {
                var probe = health.Probes[i];
                html.Append("<tr><td class=\"t\">").Append(Time(probe.Time)).Append("</td><td>").Append(E(probe.Detail)).Append("</td><td>")
                    .Append(Number(probe.DurationMs)).Append(" ms</td><td>").Append(E(probe.Status)).Append("</td></tr>");
            }

            html.Append("</tbody></table>");
        }

        html.Append("</section>");
    }

    private static void Registration(StringBuilder html, AgentStatus status)
    {
        var registration = status.Registration;
        var badge = registration.State switch
        {
            "registered" => "ok",
            "disabled" => "",
            _ => "bad",
        };
        html.Append("<section id=\"registration\"><h2>Registration</h2><p><span class=\"badge ").Append(badge).Append("\" id=\"registration-state\">")
            .Append(E(registration.State)).Append("</span> ").Append(E(registration.Detail)).Append("</p><dl>");
        if (registration.InstanceId is { } id)
        {
            html.Append("<dt>Instance</dt><dd><code>").Append(E(id)).Append("</code></dd>");
        }

        if (registration.Enabled)
        {
            html.Append("<dt>Eureka status</dt><dd>").Append(E(registration.EurekaStatus ?? "none")).Append("</dd>")
                .Append("<dt>Last heartbeat</dt><dd id=\"last-heartbeat\">")
                .Append(registration.LastHeartbeat is { } beat ? Time(beat) + " " + Ago(status.Time, beat) : "never").Append("</dd>");
        }

        if (registration.RegistryFetched is { } fetched)
        {
            html.Append("<dt>Registry</dt><dd>").Append(registration.RegistryInstances ?? 0).Append(" instances, fetched ")
                .Append(Time(fetched)).Append(' ').Append(Ago(status.Time, fetched)).Append("</dd>");
        }

        html.Append("</dl></section>");
    }

    private static void Config(StringBuilder html, AgentStatus status)
    {
        var config = status.Config;
        html.Append("<section id=\"config\"><h2>Config</h2><dl><dt>Version</dt><dd id=\"config-version\">").Append(config.Version).Append("</dd>");
        if (config.Since is { } since)
        {
            html.Append("<dt>Live since</dt><dd>").Append(Time(since)).Append(' ').Append(Ago(status.Time, since)).Append("</dd>");
        }

        html.Append("<dt>Source</dt><dd>").Append(config.Ready ? "" : "<span class=\"badge bad\">not ready</span> ").Append(E(config.Source)).Append("</dd></dl>");
        if (config.Keys.Count > 0)
        {
            html.Append("<h3>Keys (").Append(config.Keys.Count).Append(")</h3><table><thead><tr><th>Key</th><th>Value</th></tr></thead><tbody>");
            foreach (var entry in config.Keys)
            {
                html.Append("<tr data-key=\"").Append(E(entry.Key)).Append("\"><td><code>").Append(E(entry.Key)).Append("</code></td><td>")
                    .Append(entry.Masked ? "<span class=\"mute\" title=\"hidden: it looks secret\">" + E(entry.Value) + "</span>" : E(entry.Value))
                    .Append("</td></tr>");
            }

            html.Append("</tbody></table>");
        }

        html.Append("</section>");
    }

    private static void Events(StringBuilder html, AgentStatus status)
    {
        html.Append("<section id=\"events\"><h2>Recent events</h2>");
        if (status.Events.Count == 0)
        {
            html.Append("<p class=\"mute\">Nothing yet.</p>");
        }
        else
        {
            html.Append("<table><thead><tr><th>Time</th><th>Kind</th><th>What</th></tr></thead><tbody>");
            foreach (var entry in status.Events)
            {
                html.Append("<tr data-kind=\"").Append(E(entry.Kind)).Append("\"><td class=\"t\">").Append(Time(entry.Time)).Append("</td><td class=\"k\">").Append(E(entry.Kind))
                    .Append("</td><td>").Append(E(entry.Message)).Append("</td></tr>");
            }

            html.Append("</tbody></table>");
        }

        html.Append("</section>");
    }

    private static string E(string value) => WebUtility.HtmlEncode(value);

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Number(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Ago(DateTimeOffset now, DateTimeOffset then)
    {
        var span = now - then;
        var text = span.TotalSeconds < 1 ? "just now"
            : span.TotalSeconds < 90 ? $"{(int)span.TotalSeconds} s ago"
            : span.TotalMinutes < 90 ? $"{(int)span.TotalMinutes} min ago"
            : $"{(int)span.TotalHours} h ago";
        return "<span class=\"mute\">(" + text + ")</span>";
    }

    private static string Hash(string text) => "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}

using System.Net;
using Sidecar.Platform;
using Sidecar.Configuration;

namespace Sidecar.Hosting;

/// <summary>
/// <c>agent wait [--timeout 60s]</c> and <c>agent health [--ready] [--timeout 3s]</c>: small clients of a
/// running agent's health routes, for containers without a shell or curl (the chiseled image).
/// <list type="bullet">
/// <item><c>wait</c> asks <c>/v1/health/live</c> until it answers 200, then exits 0: the API listens, and the
/// first config load (CONFIG_FAIL_FAST) is done. Liveness, not readiness, because readiness waits for the
/// app's own health: an app that waits for readiness before it starts would wait for ever (docs/operations.md#commands).</item>
/// <item><c>health</c> asks once (liveness, or readiness with <c>--ready</c>) and exits 0 on 200: a Docker
/// <c>HEALTHCHECK</c> without a shell.</item>
/// </list>
/// The agent is found as the app finds it: <c>SIDECAR_PORT</c> and <c>SIDECAR_BIND_ADDRESS</c> (an any-address
/// bind is asked on loopback). A failure is one line on stderr and exit code 1; a bad setting or argument, exit code 2.
/// </summary>
internal static class ProbeCommand
{
    public const int NotHealthy = 1;

    public const string WaitUsage = """
        usage: agent wait [--timeout 60s]
          Waits until the agent at SIDECAR_BIND_ADDRESS:SIDECAR_PORT answers /v1/health/live (it listens and
          has its first config), then exits 0; exits 1 with one line when it does not within the time-out.
          For an app's entrypoint or postStart hook on clusters without native sidecars.
        """;

    public const string HealthUsage = """
        usage: agent health [--ready] [--timeout 3s]
          Asks the agent at SIDECAR_BIND_ADDRESS:SIDECAR_PORT once: /v1/health/live, or /v1/health/ready with
          --ready. Exits 0 when it answers 200, else 1 with one line. A Docker HEALTHCHECK without a shell.
        """;

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    public static Task<int> WaitAsync(string[] args) => RunAsync(args, wait: true);

    public static Task<int> HealthAsync(string[] args) => RunAsync(args, wait: false);

    private static async Task<int> RunAsync(string[] args, bool wait)
    {
        var command = wait ? "wait" : "health";
        var timeout = wait ? TimeSpan.FromSeconds(60) : TimeSpan.FromSeconds(3);
        var ready = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    await Console.Out.WriteLineAsync(wait ? WaitUsage : HealthUsage).ConfigureAwait(false);
                    return 0;
                case "--ready" when !wait:
                    ready = true;
                    break;
                case "--timeout" when i + 1 < args.Length:
                    if (!DurationParser.TryParse(args[++i], out timeout) || timeout <= TimeSpan.Zero)
                    {
                        return Fail($"--timeout '{args[i]}' is not a positive duration (examples: 500ms, 5s, 2m)");
                    }

                    break;
                default:
                    return Fail($"unknown argument '{args[i]}'; run 'agent {command} --help'");
            }
        }

        var settings = new SettingsReader(new ConfigurationBuilder()
            .AddEnvironmentVariables()
            .Add(new AgentVariablesConfigurationSource())
            .Build());
        var port = settings.Port("Sidecar:Port", 8078)!.Value;
        var bind = settings.IPAddress("Sidecar:BindAddress", IPAddress.Loopback)!;
        if (settings.Errors.Count > 0)
        {
            return Fail(new InvalidConfigurationException(settings.Errors).Message);
        }

        var path = ready ? "/v1/health/ready" : "/v1/health/live";
        var url = new Uri(Supervisor.AppProcess.SidecarUrl(bind, port) + path);
        using var client = AgentHttpHandler.Client(AgentHttpHandler.Create(timeout));
        using var deadline = new CancellationTokenSource(timeout);
        var last = "no answer";
        while (true)
        {
            try
            {
                using var response = await client.GetAsync(url, deadline.Token).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return 0;
                }

                last = $"answered {(int)response.StatusCode}";
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                // The time-out came during this try: the last try's answer says more.
            }
            catch (HttpRequestException ex)
            {
                last = ex.HttpRequestError == HttpRequestError.ConnectionError ? "connection refused" : ex.Message;
            }

            if (!wait || deadline.IsCancellationRequested)
            {
                break;
            }

            try
            {
                await Task.Delay(Interval, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        await Console.Error.WriteLineAsync(wait
            ? $"agent wait: {url} did not answer 200 within {DurationParser.Format(timeout)} (last: {last})"
            : $"agent health: {url} {last}").ConfigureAwait(false);
        return NotHealthy;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("agent: " + message);
        return AgentCommandLine.ConfigurationError;
    }
}

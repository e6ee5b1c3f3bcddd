using System.Collections;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Sidecar.Configuration;
using Sidecar.Hosting;

namespace Sidecar.Tests.Support;

/// <summary>
/// The real agent (Program.CreateApp, every capability wired as in production) started in-process
/// on loopback port 0, reading only the environment the test gives it.
/// </summary>
public sealed class AgentHarness : IAsyncDisposable
{
    private readonly WebApplication _app;

    private AgentHarness(WebApplication app, Uri baseUri, Uri? publicHealthUri, Uri? metricsUri = null, Uri? grpcUri = null)
    {
        _app = app;
        GrpcUri = grpcUri;
        BaseUri = baseUri;
        PublicHealthUri = publicHealthUri;
        MetricsUri = metricsUri;
        Client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseUri { get; }

    /// <summary>The public health listener, when the environment asked for one.</summary>
    public Uri? PublicHealthUri { get; }

    public HttpClient Client { get; }

    /// <summary>The metrics listener, when the environment asked for one (SIDECAR_METRICS_PORT).</summary>
    public Uri? MetricsUri { get; }

    /// <summary>The gRPC listener (HTTP/2 only), when the environment asked for one (SIDECAR_GRPC_PORT).</summary>
    public Uri? GrpcUri { get; }

    public IServiceProvider Services => _app.Services;

    /// <param name="environment">The agent's environment variables (docs/configuration.md names or Section__Key).</param>
    /// <param name="services">Replacements registered after the agent's own (a FakeTimeProvider, a fake probe).</param>
    /// <param name="publicHealthPort">A fixed port for the public health listener (what the registration then names); by default any free one.</param>
    public static async Task<AgentHarness> StartAsync(IDictionary<string, string?> environment, Action<IServiceCollection>? services = null, int? publicHealthPort = null)
    {
        var wantsPublic = environment.ContainsKey("SIDECAR_PUBLIC_HEALTH_PORT");
        var wantsMetrics = environment.ContainsKey("SIDECAR_METRICS_PORT");
        var wantsGrpc = environment.ContainsKey("SIDECAR_GRPC_PORT");
        environment = WithCoreSetting(WithTestDrain(environment));
        var overrides = new AgentHostOverrides
        {
            Environment = new Hashtable(environment.ToDictionary(p => p.Key, p => (object?)p.Value)),
            Options = o => o with { Sidecar = o.Sidecar with { Port = 0, PublicHealthPort = wantsPublic ? publicHealthPort ?? 0 : null, MetricsPort = wantsMetrics ? 0 : null, GrpcPort = wantsGrpc ? 0 : null } },
            Services = services,
        };

        var app = Program.CreateApp([], overrides);
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        // The loopback listeners, in the order they were bound: the API, then the gRPC one.
        var loopback = addresses.Where(a => a.Contains("127.0.0.1", StringComparison.Ordinal)).ToList();
        var api = loopback[0];
        var grpcUri = wantsGrpc ? new Uri(loopback[1] + "/") : null;
        // The any-address listeners, in the order they were bound: the public health one, then the metrics one.
        var anyAddress = addresses.Where(a => !a.Contains("127.0.0.1", StringComparison.Ordinal))
            .Select(a => new Uri($"http://127.0.0.1:{new Uri(a.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)).Port}/")).ToList();
        var publicUri = wantsPublic ? anyAddress[0] : null;
        var metricsUri = wantsMetrics ? anyAddress[^1] : null;
        return new AgentHarness(app, new Uri(api + "/"), publicUri, metricsUri, grpcUri);
    }

    /// <summary>
    /// No drain unless the test sets one: the default (65 s, what Eureka callers need) would hold every
    /// registered agent's stop for a minute.
    /// </summary>
    internal static IDictionary<string, string?> WithTestDrain(IDictionary<string, string?> environment)
    {
        if (environment.ContainsKey("SIDECAR_DRAIN") || environment.ContainsKey("Sidecar__Drain"))
        {
            return environment;
        }

        return new Dictionary<string, string?>(environment) { ["SIDECAR_DRAIN"] = "0s" };
    }

    /// <summary>
    /// The forwarding core as the test process's environment sets it (<c>Forwarding__Core=false dotnet test</c> runs
    /// the suite with every call through Kestrel's pipeline), unless the test sets it.
    /// </summary>
    internal static IDictionary<string, string?> WithCoreSetting(IDictionary<string, string?> environment)
    {
        const string Key = "Forwarding__Core";
        return Environment.GetEnvironmentVariable(Key) is { Length: > 0 } value && !environment.ContainsKey(Key)
            ? new Dictionary<string, string?>(environment) { [Key] = value }
            : environment;
    }

    /// <summary>Stops the agent as SIGTERM does (the drain included); DisposeAsync afterwards is still needed.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => _app.StopAsync(cancellationToken);

    public T Get<T>()
        where T : notnull => _app.Services.GetRequiredService<T>();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        // A safety limit, not a measure: some tests run their drain steps inside this stop, on a loaded machine.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }
}

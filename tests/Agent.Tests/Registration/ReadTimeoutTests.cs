using System.Diagnostics;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecar.Discovery;
using Sidecar.Registration;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

/// <summary>Eureka's read time-out is the socket's (Netflix): the longest silence, not the length of the whole answer.</summary>
public sealed class ReadTimeoutTests
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(2);

    // A registry of 200 instances, as GET apps/ answers it.
    private static readonly byte[] Registry = EurekaJsonWriter.Applications(new EurekaApplications("1", "UP_200_",
    [
        new EurekaApplication("ORDERS", [.. Enumerable.Range(0, 200).Select(i => new EurekaInstanceInfo
        {
            InstanceId = $"host-{i}:orders:8080", App = "ORDERS", HostName = $"host-{i}", IpAddr = $"10.0.{i / 250}.{i % 250}", Port = 8080, VipAddress = "orders",
        })]),
    ]));

    private static EurekaHttpClient Client(LoopbackServer server) =>
        new(new EurekaOptions { Urls = [new Uri(server.BaseUri, "eureka/")], ReadTimeout = ReadTimeout }, NullLogger<EurekaHttpClient>.Instance, handler: null);

    [Fact]
    public async Task AnAnswerThatKeepsFlowing_IsReadWhole_HoweverLongItTakes()
    {
        // Eight pieces, each well within the read time-out, together twice as long as it.
        await using var server = await LoopbackServer.StartAsync(async context =>
        {
            context.Response.ContentType = "application/json";
            var piece = (Registry.Length / 8) + 1;
            for (var offset = 0; offset < Registry.Length; offset += piece)
            {
                await context.Response.Body.WriteAsync(Registry.AsMemory(offset, Math.Min(piece, Registry.Length - offset)));
                await context.Response.Body.FlushAsync();
                await Task.Delay(ReadTimeout / 5);
            }
        });
        using var client = Client(server);

        var watch = Stopwatch.StartNew();
        var response = await client.GetApplicationsAsync(CancellationToken.None);

        Assert.True(response.Succeeded, response.Error);
        Assert.True(watch.Elapsed > ReadTimeout, "the answer took longer than the read time-out");
        Assert.Equal(200, EurekaJsonReader.ReadApplications(response.Body).AllInstances().Count());
    }

    [Fact]
    public async Task AnAnswerThatStops_FailsAfterTheReadTimeout_OfSilence()
    {
        await using var server = await LoopbackServer.StartAsync(async context =>
        {
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = Registry.Length;
            await context.Response.Body.WriteAsync(Registry.AsMemory(0, Registry.Length / 2));
            await context.Response.Body.FlushAsync();
            await Task.Delay(TimeSpan.FromSeconds(20), context.RequestAborted);
        });
        using var client = Client(server);

        var watch = Stopwatch.StartNew();
        var response = await client.GetApplicationsAsync(CancellationToken.None);

        Assert.False(response.Succeeded);
        Assert.Equal("nothing received for 2s", response.Error);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"gave up after {watch.Elapsed}");
    }
}

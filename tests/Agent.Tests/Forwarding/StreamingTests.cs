using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>Allocation figures are process-wide: these tests run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(StreamingTests), DisableParallelization = true)]
public sealed class StreamingTestsRunAlone;

/// <summary>
/// Large bodies stream both ways: the instance sees the first bytes of an upload while the caller is
/// still sending (and the caller sees the first bytes of a download while the instance is still
/// writing), and a 50 MiB transfer allocates a small fraction of its size.
/// </summary>
[Collection(nameof(StreamingTests))]
public sealed class StreamingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const long Size = 50L * 1024 * 1024;
    private const int Chunk = 64 * 1024;

    [Fact]
    public async Task A50MiBUpload_Streams_WithoutBufferingTheBody()
    {
        var halfwayThere = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var orders = await Upstream.StartAsync("orders", async (context, _) =>
        {
            AllowLargeBodies(context);
            var buffer = new byte[Chunk];
            long received = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                received += read;
                if (received >= 4 * 1024 * 1024)
                {
                    halfwayThere.TrySetResult();
                }
            }

            await context.Response.WriteAsync(received.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={orders.Url}" });
        await WarmUpAsync(agent);

        // The caller stops after 8 MiB until the instance has 4 MiB: a forwarder that buffered would never get there.
        using var content = new GeneratedContent(Size, pauseAt: 8 * 1024 * 1024, halfwayThere.Task);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        using var response = await agent.Client.PostAsync("v1/invoke/orders/upload", content);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Size.ToString(System.Globalization.CultureInfo.InvariantCulture), await response.Content.ReadAsStringAsync());
        output.WriteLine($"{allocated / 1024} KiB allocated in the process to forward 50 MiB");
        Assert.True(allocated < 8 * 1024 * 1024, $"{allocated / 1024} KiB allocated to forward 50 MiB");
    }

    [Fact]
    public async Task A50MiBChunkedUpload_Streams_WithoutBufferingTheBody()
    {
        var halfwayThere = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var orders = await Upstream.StartAsync("orders", async (context, _) =>
        {
            AllowLargeBodies(context);
            var buffer = new byte[Chunk];
            long received = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                received += read;
                if (received >= 4 * 1024 * 1024)
                {
                    halfwayThere.TrySetResult();
                }
            }

            await context.Response.WriteAsync($"{received} {context.Request.Headers.TransferEncoding}");
        });
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={orders.Url}" });
        await WarmUpAsync(agent);

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/invoke/orders/upload")
        {
            Content = new GeneratedContent(Size, pauseAt: 8 * 1024 * 1024, halfwayThere.Task, knownLength: false),
        };
        request.Headers.TransferEncodingChunked = true;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        using var response = await agent.Client.SendAsync(request);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal($"{Size} chunked", await response.Content.ReadAsStringAsync());
        output.WriteLine($"{allocated / 1024} KiB allocated in the process to forward 50 MiB");
        Assert.True(allocated < 10 * 1024 * 1024, $"{allocated / 1024} KiB allocated to forward 50 MiB");
    }

    [Fact]
    public async Task A50MiBDownload_Streams_WithoutBufferingTheBody()
    {
        var callerHasSome = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var orders = await Upstream.StartAsync("orders", async (context, _) =>
        {
            if (context.Request.Path == "/warm-up")
            {
                await context.Request.Body.CopyToAsync(Stream.Null);
                return;
            }

            var buffer = new byte[Chunk];
            context.Response.ContentLength = Size;
            for (long sent = 0; sent < Size; sent += Chunk)
            {
                if (sent == 8 * 1024 * 1024)
                {
                    // The instance waits until the caller has 4 MiB: a forwarder that buffered would never deliver them.
                    await callerHasSome.Task.WaitAsync(TimeSpan.FromSeconds(20));
                }

                await context.Response.Body.WriteAsync(buffer);
            }
        });
        await using var agent = await AgentHarness.StartAsync(new Dictionary<string, string?> { ["ROUTES"] = $"orders={orders.Url}" });
        await WarmUpAsync(agent);

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        using var response = await agent.Client.GetAsync("v1/invoke/orders/download", HttpCompletionOption.ResponseHeadersRead);
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[Chunk];
        long received = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            received += read;
            if (received >= 4 * 1024 * 1024)
            {
                callerHasSome.TrySetResult();
            }
        }

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Size, response.Content.Headers.ContentLength);
        Assert.Equal(Size, received);
        output.WriteLine($"{allocated / 1024} KiB allocated in the process to forward 50 MiB");
        Assert.True(allocated < 8 * 1024 * 1024, $"{allocated / 1024} KiB allocated to forward 50 MiB");
    }

    // The upstream is a Kestrel too: its default limit (about 28.6 MiB) would cut the upload.
    private static void AllowLargeBodies(HttpContext context) =>
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()!.MaxRequestBodySize = null;

    // First calls pay for JIT and connection set-up; the measure is about the transfer.
    private static async Task WarmUpAsync(AgentHarness agent)
    {
        using var response = await agent.Client.PostAsync("v1/invoke/orders/warm-up", new ByteArrayContent(new byte[2 * 1024 * 1024]));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>A body produced from one reused buffer, optionally pausing at an offset until a signal.</summary>
    private sealed class GeneratedContent(long size, long pauseAt, Task resume, bool knownLength = true) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var buffer = new byte[Chunk];
            for (long sent = 0; sent < size; sent += Chunk)
            {
                if (sent == pauseAt)
                {
                    await resume.WaitAsync(TimeSpan.FromSeconds(20));
                }

                await stream.WriteAsync(buffer.AsMemory(0, (int)Math.Min(Chunk, size - sent)));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = size;
            return knownLength;
        }
    }
}

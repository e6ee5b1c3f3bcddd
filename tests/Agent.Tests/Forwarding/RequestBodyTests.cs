using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Sidecar.Forwarding;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// How a request body is carried (docs/forwarding.md#bodies-and-headers): the plan as a table
/// (<see cref="RequestBodyPlan"/>), and <see cref="RequestBody"/> carrying it out over in-memory bodies.
/// </summary>
[Trait("Category", "Unit")]
public sealed class RequestBodyTests
{
    private const int Buffer = 1024;

    [Theory]
    //          declared   can have body   max body   plan
    // No body: nothing sent, but an explicit Content-Length: 0 is kept.
    [InlineData(null,      "no",           0,         "None")]
    [InlineData(0L,        "no",           0,         "Empty 0")]
    [InlineData(null,      "unknown",      0,         "None")]
    [InlineData(0L,        "unknown",      0,         "Empty 0")]
    [InlineData(5L,        "unknown",      0,         "Buffer 5")]
    // Up to RetryBufferSize: read whole, so a retry can send it again.
    [InlineData(0L,        "yes",          0,         "Buffer 0")]
    [InlineData(5L,        "yes",          0,         "Buffer 5")]
    [InlineData(1024L,     "yes",          0,         "Buffer 1024")]
    // Larger: streamed with its length; unknown (chunked): probed with one byte more than the buffer.
    [InlineData(1025L,     "yes",          0,         "Stream 1025")]
    [InlineData(null,      "yes",          0,         "Probe 1025")]
    // Over MaxBodySize (0: no limit): refused before anything is read.
    [InlineData(2049L,     "yes",          2048,      "TooLarge")]
    [InlineData(2048L,     "yes",          2048,      "Stream 2048")]
    [InlineData(100L,      "yes",          50,        "TooLarge")]
    [InlineData(100L,      "no",           50,        "TooLarge")]
    [InlineData(null,      "yes",          50,        "Probe 1025")]
    public void For_PlansTheBodyFromItsDeclaredLength(long? declared, string canHaveBody, long maxBodySize, string plan)
    {
        bool? can = canHaveBody switch { "yes" => true, "no" => false, _ => null };

        Assert.Equal(plan, Describe(RequestBodyPlan.For(declared, can, maxBodySize, Buffer)));
    }

    [Theory]
    //          read    max body   plan
    [InlineData(0,      0,         "Buffer 0")]
    [InlineData(1024,   0,         "Buffer 1024")]
    [InlineData(1025,   0,         "Stream -1")]
    [InlineData(1025,   2048,      "Stream -1")]
    [InlineData(1025,   1024,      "TooLarge")]
    [InlineData(100,    50,        "TooLarge")]
    [InlineData(50,     50,        "Buffer 50")]
    public void AfterProbe_BuffersWhatFits_StreamsTheRest_RefusesTooLarge(int read, long maxBodySize, string plan)
    {
        Assert.Equal(plan, Describe(RequestBodyPlan.AfterProbe(read, maxBodySize, Buffer)));
    }

    [Theory]
    [InlineData("None", true)]
    [InlineData("Empty", true)]
    [InlineData("Buffer", true)]
    [InlineData("Stream", false)]
    [InlineData("Probe", false)]
    [InlineData("TooLarge", false)]
    public void Replayable_OnlyWhatIsHeldWhole(string kind, bool replayable)
    {
        Assert.Equal(replayable, new RequestBodyPlan(Enum.Parse<BodyPlanKind>(kind), 0).Replayable);
    }

    [Theory]
    //          body length   declared   chunked   max body   sent as                  state
    [InlineData(0,            0L,        false,    0,         "buffered 0",            "Replayable")]
    [InlineData(10,           10L,       false,    0,         "buffered 10",           "Replayable")]
    [InlineData(1024,         1024L,     false,    0,         "buffered 1024",         "Replayable")]
    [InlineData(2000,         2000L,     false,    0,         "streamed 2000 of 2000", "StreamUnread")]
    [InlineData(10,           null,      true,     0,         "buffered 10",           "Replayable")]
    [InlineData(1024,         null,      true,     0,         "buffered 1024",         "Replayable")]
    [InlineData(1025,         null,      true,     0,         "streamed 1025 of ?",    "StreamUnread")]
    [InlineData(5000,         null,      true,     0,         "streamed 5000 of ?",    "StreamUnread")]
    [InlineData(5000,         null,      true,     1024,      "refused",               "")]
    [InlineData(5000,         5000L,     false,    4096,      "refused",               "")]
    public async Task ReadAsync_CarriesThePlanOut(int length, long? declared, bool chunked, long maxBodySize, string sentAs, string state)
    {
        var content = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();
        var context = Request(content, declared, chunked);
        var policy = new ServicePolicy { RetryBufferSize = Buffer, MaxBodySize = maxBodySize };

        var body = await RequestBody.ReadAsync(context, policy);

        if (body is null)
        {
            Assert.Equal("refused", sentAs);
            return;
        }

        Assert.Equal(state, body.State.ToString());
        var sent = new MemoryStream();
        await body.WriteAsync(sent, CancellationToken.None);
        Assert.Equal(content, sent.ToArray());
        var known = body.TryComputeLength(out var declaredLength);
        Assert.Equal(sentAs, body.IsStreamed ? $"streamed {sent.Length} of {(known ? declaredLength : "?")}" : $"buffered {declaredLength}");
        Assert.Equal(body.IsStreamed ? "StreamSent" : "Replayable", body.State.ToString());
    }

    [Fact]
    public async Task ReadAsync_WithoutABody_SendsNoContent()
    {
        var body = await RequestBody.ReadAsync(Request([], declared: null, chunked: false), new ServicePolicy());

        Assert.NotNull(body);
        Assert.False(body.HasContent);
        Assert.Equal(BodyState.Replayable, body.State);
    }

    [Fact]
    public async Task ReadAsync_LiftsKestrelsBodyLimit_ForTheForwarderEnforcesItsOwn()
    {
        var context = Request(new byte[2000], 2000, chunked: false);
        var limit = new BodySizeLimit { MaxRequestBodySize = 1024 };
        context.Features.Set<IHttpMaxRequestBodySizeFeature>(limit);

        await RequestBody.ReadAsync(context, new ServicePolicy());

        Assert.Null(limit.MaxRequestBodySize);
    }

    private static string Describe(RequestBodyPlan plan) =>
        plan.Kind is BodyPlanKind.None or BodyPlanKind.TooLarge ? plan.Kind.ToString() : $"{plan.Kind} {plan.Length}";

    private static DefaultHttpContext Request(byte[] content, long? declared, bool chunked)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Body = new MemoryStream(content);
        context.Request.ContentLength = declared;
        context.Features.Set<IHttpRequestBodyDetectionFeature>(new BodyDetection(declared > 0 || chunked));
        return context;
    }

    private sealed class BodyDetection(bool canHaveBody) : IHttpRequestBodyDetectionFeature
    {
        public bool CanHaveBody { get; } = canHaveBody;
    }

    private sealed class BodySizeLimit : IHttpMaxRequestBodySizeFeature
    {
        public bool IsReadOnly => false;

        public long? MaxRequestBodySize { get; set; }
    }
}

using Sidecar.Forwarding;
using Sidecar.Platform;

namespace Sidecar.Tests.Forwarding;

[Trait("Category", "Unit")]
public sealed class TraceParentTests
{
    [Theory]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", true)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", true)]
    [InlineData("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future", true)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", false)]
    [InlineData("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", false)]
    [InlineData("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", false)]
    [InlineData("00-00000000000000000000000000000000-b7ad6b7169203331-01", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", false)]
    [InlineData("", false)]
    public void IsValid_FollowsW3CTraceContext(string value, bool valid) => Assert.Equal(valid, TraceParent.IsValid(value));

    [Fact]
    public void Create_MakesValidDistinctUnsampledValues()
    {
        var a = TraceParent.Create();
        var b = TraceParent.Create();

        Assert.True(TraceParent.IsValid(a));
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", a);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void AValue_IsItsBytesInLowerCaseHex()
    {
        // Every byte value in some place: 11 values of 24 bytes.
        for (var round = 0; round * 24 < 256; round++)
        {
            var random = new byte[24];
            for (var i = 0; i < random.Length; i++)
            {
                random[i] = (byte)((round * 24) + i);
            }

            var chars = new char[NewTrace.Length];
            TraceParent.Format(random, chars);
            var ascii = new byte[NewTrace.Length];
            TraceParent.Format(random, ascii);

            var expected = $"00-{Convert.ToHexStringLower(random, 0, 16)}-{Convert.ToHexStringLower(random, 16, 8)}-00";
            Assert.Equal(expected, new string(chars));
            Assert.Equal(expected, System.Text.Encoding.ASCII.GetString(ascii));
        }
    }

    [Fact]
    public void ANewTrace_WritesTheSameValue_OnTheStackAsItsString()
    {
        var trace = NewTrace.Create();
        Span<char> chars = stackalloc char[NewTrace.Length];
        trace.Format(chars);

        Span<byte> ascii = stackalloc byte[NewTrace.Length];
        trace.Format(ascii);

        Assert.Equal(trace.ToString(), chars.ToString());
        Assert.Equal(trace.ToString(), System.Text.Encoding.ASCII.GetString(ascii));
        Assert.Equal(trace.ToString(), trace.ToString()); // its ids are kept, not drawn again
        Assert.True(TraceParent.IsValid(trace.ToString()));
        Assert.NotEqual(trace.ToString(), NewTrace.Create().ToString());
    }

    [Fact]
    public void AScopeGivenANewTrace_CutsItsIdsFromTheValueTheInstanceGets()
    {
        var trace = NewTrace.Create();
        var value = trace.ToString();
        var scope = new RequestLogScope();

        scope.SetTraceParent(trace);

        Assert.Equal(value.Substring(3, 32), scope.TraceId);
        Assert.Equal(value.Substring(36, 16), scope.SpanId);
        scope.Clear();
        Assert.Null(scope.TraceId);
    }
}

using Sidecar.Forwarding;

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
}

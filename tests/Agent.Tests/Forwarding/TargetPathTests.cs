using Sidecar.Forwarding;

namespace Sidecar.Tests.Forwarding;

[Trait("Category", "Unit")]
public sealed class TargetPathTests
{
    [Theory]
    [InlineData("/")]
    [InlineData("/api/orders/42?expand=items&x=%2e%2e")]
    [InlineData("/a/../b")]
    [InlineData("/a/./b/")]
    [InlineData("/files/a%2Fb")]
    [InlineData("/caf%C3%A9")]
    [InlineData("/x;v=1/y")]
    [InlineData("/a//b")]
    [InlineData("/q?next=//evil.example/&u=http://x")]
    [InlineData("/search?q=a%0Ab")]
    [InlineData("/{id}|x")]
    public void SafePaths_AreAccepted(string target) => Assert.Null(TargetPath.Check(target));

    [Theory]
    [InlineData("", "must start with '/'")]
    [InlineData("api/x", "must start with '/'")]
    [InlineData("http://evil/x", "must start with '/'")]
    [InlineData("//evil/x", "'//'")]
    [InlineData("/\\evil/x", "'//'")]
    [InlineData("/x\r\nHost: evil", "CR and LF")]
    [InlineData("/x\u0000", "control")]
    [InlineData("/a b", "percent-encoded")]
    [InlineData("/caf\u00e9", "percent-encoded")]
    [InlineData("/a\\b", "backslashes")]
    [InlineData("/a#b", "fragment")]
    [InlineData("/a%2", "malformed")]
    [InlineData("/a%zz", "malformed")]
    [InlineData("/..", "'..'")]
    [InlineData("/a/../..", "'..'")]
    [InlineData("/%2e%2e/x", "'..'")]
    [InlineData("/%2E%2e/x", "'..'")]
    [InlineData("/.%2e/x", "'..'")]
    [InlineData("/%252e%252e/x", "'..'")]
    [InlineData("/a%2f..%2f..%2fx", "'..'")]
    [InlineData("/a%2fb/../..", "'..'")]
    [InlineData("/%5c..%5c..%5cx", "'..'")]
    [InlineData("/..;/x", "'..'")]
    [InlineData("/a/..;x/..;y/z", "'..'")]
    [InlineData("/%c0%ae%c0%ae/x", "UTF-8")]
    [InlineData("/x%0d%0aSet-Cookie:%20a=1", "encoded control")]
    [InlineData("/x%00", "encoded control")]
    public void HostilePaths_AreRefused_WithAReason(string target, string reason)
    {
        var why = TargetPath.Check(target);

        Assert.NotNull(why);
        Assert.Contains(reason, why, StringComparison.Ordinal);
    }
}

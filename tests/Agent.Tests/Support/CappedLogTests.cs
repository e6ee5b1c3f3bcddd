namespace Sidecar.Tests.Support;

/// <summary>What the tests keep of an agent's output stays bounded however much it prints (the saved e2e logs once reached 287 MB).</summary>
[Trait("Category", "Unit")]
public sealed class CappedLogTests
{
    [Fact]
    public void AFloodOfLines_KeepsTheStartAndTheEnd_WithAMarker_AndStaysBounded()
    {
        var log = new CappedLog(headChars: 1000, tailLines: 3);

        for (var i = 0; i < 100_000; i++)
        {
            log.AppendLine($"line {i}");
        }

        var text = log.ToString();
        Assert.True(text.Length < 1200, $"{text.Length} chars kept");
        Assert.StartsWith("line 0\nline 1\n", text, StringComparison.Ordinal);
        Assert.EndsWith("line 99997\nline 99998\nline 99999\n", text, StringComparison.Ordinal);
        Assert.Contains("[test log: ", text, StringComparison.Ordinal);
        Assert.Contains(" lines left out here;", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ALogUnderTheCap_IsKeptWhole()
    {
        var log = new CappedLog(headChars: 1000, tailLines: 3);

        log.AppendLine("first");
        log.AppendLine("second");

        Assert.Equal("first\nsecond\n", log.ToString());
    }

    [Fact]
    public void TheDefaultCap_IsAFewMegabytes()
    {
        var log = new CappedLog();
        var line = new string('x', 200);

        for (var i = 0; i < 100_000; i++) // 20 MB of output
        {
            log.AppendLine(line);
        }

        Assert.InRange(log.ToString().Length, CappedLog.DefaultHeadChars, CappedLog.DefaultHeadChars + (CappedLog.DefaultTailLines * 202) + 200);
    }
}

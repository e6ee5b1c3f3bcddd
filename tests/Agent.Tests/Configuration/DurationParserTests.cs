using Sidecar.Configuration;

namespace Sidecar.Tests.Configuration;

[Trait("Category", "Unit")]
public sealed class DurationParserTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("5s", 5_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData(" 30S ", 30_000)]
    [InlineData("00:00:05", 5_000)]
    [InlineData("00:01:00.250", 60_250)]
    [InlineData("-1s", -1_000)]
    public void TryParse_AcceptsUnitsAndTimeSpanText(string text, double expectedMs)
    {
        Assert.True(DurationParser.TryParse(text, out var duration));
        Assert.Equal(expectedMs, duration.TotalMilliseconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")] // a bare number would be ambiguous (TimeSpan reads it as days)
    [InlineData("five seconds")]
    [InlineData("5 parsecs")]
    [InlineData("s")]
    [InlineData("1e400s")]
    public void TryParse_RejectsAnythingElse(string text) => Assert.False(DurationParser.TryParse(text, out _));

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(500, "500ms")]
    [InlineData(5_000, "5s")]
    [InlineData(120_000, "2m")]
    [InlineData(7_200_000, "2h")]
    [InlineData(1_500, "1500ms")]
    public void Format_WritesTheShortestSpelling(double ms, string expected) =>
        Assert.Equal(expected, DurationParser.Format(TimeSpan.FromMilliseconds(ms)));
}

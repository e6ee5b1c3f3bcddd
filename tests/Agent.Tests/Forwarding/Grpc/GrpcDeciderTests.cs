using Sidecar.Forwarding;
using Sidecar.Forwarding.Grpc;
using Sidecar.Observability;

namespace Sidecar.Tests.Forwarding.Grpc;

/// <summary>The gRPC call's rules with no I/O (docs/grpc.md): grpc-timeout, the status of each agent answer, retries.</summary>
[Trait("Category", "Unit")]
public sealed class GrpcDeciderTests
{
    [Theory]
    [InlineData("1H", 36_000_000_000L)]
    [InlineData("2M", 1_200_000_000L)]
    [InlineData("3S", 30_000_000L)]
    [InlineData("250m", 2_500_000L)]
    [InlineData("1500u", 15_000L)]
    [InlineData("1000n", 10L)]
    [InlineData("99999999S", 999_999_990_000_000L)]
    [InlineData("0m", 0L)]
    public void GrpcTimeout_ReadsEveryUnit(string value, long ticks)
    {
        Assert.True(GrpcTimeout.TryParse(value, out var timeout));
        Assert.Equal(ticks, timeout.Ticks);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("5")]
    [InlineData("123456789S")] // 9 digits
    [InlineData("5s")]          // units are case-sensitive: s is not one
    [InlineData("-5S")]
    [InlineData("5 S")]
    [InlineData("1.5S")]
    [InlineData("٣S")]          // a digit, but not an ASCII one
    public void GrpcTimeout_RefusesWhatIsNotOne(string? value)
    {
        Assert.False(GrpcTimeout.TryParse(value, out _));
    }

    [Theory]
    [InlineData(0L, "0n")]
    [InlineData(5L, "500n")]
    [InlineData(999_999L, "99999900n")]
    [InlineData(1_000_000L, "100000u")]          // 100 ms
    [InlineData(300_000_000L, "30000000u")]       // 30 s
    [InlineData(3_000_000_000L, "300000m")]       // 5 min
    [InlineData(36_000_000_000_000L, "3600000S")] // 1000 h
    [InlineData(-5L, "0n")]
    public void GrpcTimeout_IsWrittenInTheFinestUnitThatFits_RoundedDown(long ticks, string expected)
    {
        var text = GrpcTimeout.Format(TimeSpan.FromTicks(ticks));

        Assert.Equal(expected, text);
        Assert.True(GrpcTimeout.TryParse(text, out var back));
        Assert.True(back.Ticks <= Math.Max(0, ticks));
    }

    [Theory]
    [InlineData(ForwardingProblems.NoInstance, GrpcStatus.Unavailable)]
    [InlineData(ForwardingProblems.UpstreamUnreachable, GrpcStatus.Unavailable)]
    [InlineData(ForwardingProblems.CircuitOpen, GrpcStatus.Unavailable)]
    [InlineData(ForwardingProblems.Draining, GrpcStatus.Unavailable)]
    [InlineData(ForwardingProblems.BadUpstreamResponse, GrpcStatus.Unavailable)]
    [InlineData(ForwardingProblems.DeadlineExceeded, GrpcStatus.DeadlineExceeded)]
    [InlineData(ForwardingProblems.UpstreamTimeout, GrpcStatus.DeadlineExceeded)]
    [InlineData(ForwardingProblems.UnknownService, GrpcStatus.Unimplemented)]
    [InlineData(ForwardingProblems.UnknownHost, GrpcStatus.Unimplemented)]
    [InlineData(ForwardingProblems.RateLimited, GrpcStatus.ResourceExhausted)]
    [InlineData(ForwardingProblems.ConcurrencyLimit, GrpcStatus.ResourceExhausted)]
    [InlineData(ForwardingProblems.BodyTooLarge, GrpcStatus.ResourceExhausted)]
    [InlineData(ForwardingProblems.CrossSiteRequest, GrpcStatus.PermissionDenied)]
    [InlineData(ForwardingProblems.LoopDetected, GrpcStatus.FailedPrecondition)]
    [InlineData(ForwardingProblems.BadRequest, GrpcStatus.Internal)]
    [InlineData(ForwardingProblems.BadPath, GrpcStatus.Internal)]
    [InlineData(ForwardingProblems.MethodNotAllowed, GrpcStatus.Internal)]
    public void EachAgentProblem_HasItsStatus(string code, int status)
    {
        Assert.Equal(status, GrpcStatus.ForProblem(code));
    }

    [Fact]
    public void EveryProblemCode_IsInTheDocumentedTable()
    {
        var page = File.ReadAllText(Sidecar.Tests.Support.Repository.PathOf("docs", "grpc.md"));
        var codes = typeof(ForwardingProblems).GetFields().Select(f => (string)f.GetValue(null)!);

        foreach (var code in codes)
        {
            Assert.Contains($"| `{code}` |", page, StringComparison.Ordinal);
            Assert.Contains($"| `{code}` | {GrpcStatus.ForProblem(code)} `{GrpcStatus.Names[GrpcStatus.ForProblem(code)]}` |", page, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("UNAVAILABLE", 14)]
    [InlineData("deadline_exceeded", 4)]
    [InlineData(" 8 ", 8)]
    [InlineData("16", 16)]
    [InlineData("17", null)]
    [InlineData("-1", null)]
    [InlineData("UNAVAILBLE", null)]
    [InlineData("", null)]
    public void AStatus_IsReadByNameOrNumber(string text, int? expected)
    {
        Assert.Equal(expected, GrpcStatus.Parse(text));
    }

    [Theory]
    [InlineData("plain text", "plain text")]
    [InlineData("100% sure", "100%25 sure")]
    [InlineData("é", "%C3%A9")]
    [InlineData("a\nb", "a%0Ab")]
    public void GrpcMessage_IsPercentEncoded(string message, string expected)
    {
        Assert.Equal(expected, GrpcStatus.EncodeMessage(message));
    }

    [Theory]
    [InlineData("application/grpc", true)]
    [InlineData("application/grpc+proto", true)]
    [InlineData("application/GRPC+json", true)]
    [InlineData("application/grpc; charset=utf-8", true)]
    [InlineData("application/grpc-web", false)]
    [InlineData("application/grpcx", false)]
    [InlineData("application/json", false)]
    [InlineData(null, false)]
    public void AGrpcRequest_IsKnownByItsContentType(string? contentType, bool expected)
    {
        Assert.Equal(expected, GrpcStatus.IsGrpc(contentType));
    }

    // never-left, body started, body kept whole, status (-1: none), status retryable, attempt, call over -> reason
    [Theory]
    [InlineData(true, false, false, -1, false, 1, false, "connect_error")]       // refused: nothing was read of the body
    [InlineData(true, true, true, -1, false, 1, false, "connect_error")]         // refused on a retry, the body kept whole
    [InlineData(true, true, false, -1, false, 1, false, null)]                   // the body streamed and was not kept
    [InlineData(false, false, false, -1, false, 1, false, null)]                 // the request may have reached the instance
    [InlineData(true, false, false, -1, false, 3, false, null)]                  // Retries (2) spent
    [InlineData(true, false, false, -1, false, 1, true, null)]                   // the caller left, or the deadline
    [InlineData(false, true, true, 14, true, 1, false, "grpc_status")]           // GrpcRetryOn names it, the body kept
    [InlineData(false, true, true, 14, false, 1, false, null)]                   // a status GrpcRetryOn does not name
    [InlineData(false, true, false, 14, true, 1, false, null)]                   // the body was too large to keep, or is still open
    [InlineData(false, true, true, 14, true, 3, false, null)]                    // Retries spent
    [InlineData(false, true, true, 14, true, 1, true, null)]                     // the call is over
    public void GrpcRetry_OnlyWhatIsSafe(bool neverLeft, bool started, bool replayable, int status, bool retryable, int attempt, bool over, string? expected)
    {
        var reason = GrpcRetryDecider.Decide(new(neverLeft, started, replayable, status < 0 ? null : status, retryable, attempt, 2, over));

        Assert.Equal(expected, reason?.Label());
    }
}

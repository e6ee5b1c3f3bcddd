using System.Net.Http.Headers;
using Sidecar.Forwarding;
using Sidecar.Observability;
using static Sidecar.Tests.Forwarding.RetryTable;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The retry rules (docs/forwarding.md#deadlines-retries-ejection) as tables of <see cref="RetryDecider"/>:
/// the facts of an attempt in, retry or not and why out. The words are <see cref="RetryTable"/>'s.
/// </summary>
[Trait("Category", "Unit")]
public sealed class RetryDeciderTests
{
    [Theory]
    //          attempt                                              decision
    // The request never left: any method, as long as the body can be sent again.
    [InlineData("GET never-left",                                    "retry connect_error")]
    [InlineData("POST never-left",                                   "retry connect_error")]
    [InlineData("PATCH refused",                                     "retry connect_error")]
    [InlineData("POST connect-timeout",                              "retry connect_error")]
    [InlineData("POST never-left, body stream",                      "retry connect_error")]
    [InlineData("POST never-left, body none",                        "retry connect_error")]
    [InlineData("GET never-left, body sent",                         "no: body-sent")]
    // After the request may have left: idempotent methods or an Idempotency-Key only.
    [InlineData("GET 502",                                           "retry status_502")]
    [InlineData("HEAD 504",                                          "retry status_504")]
    [InlineData("OPTIONS 503",                                       "retry status_503")]
    [InlineData("PUT try-timeout",                                   "retry try_timeout")]
    [InlineData("DELETE transport",                                  "retry transport_error")]
    [InlineData("GET io",                                            "retry transport_error")]
    [InlineData("POST 502",                                          "no: not-idempotent")]
    [InlineData("PATCH 503",                                         "no: not-idempotent")]
    [InlineData("POST try-timeout",                                  "no: not-idempotent")]
    [InlineData("POST transport",                                    "no: not-idempotent")]
    [InlineData("POST+key 502",                                      "retry status_502")]
    [InlineData("PATCH+key transport",                               "retry transport_error")]
    [InlineData("post 504",                                          "no: not-idempotent")]
    [InlineData("get 504",                                           "retry status_504")]
    // A body already streamed to an instance cannot be sent again; an unread stream can.
    [InlineData("PUT 502, body sent",                                "no: body-sent")]
    [InlineData("PUT 502, body stream",                              "retry status_502")]
    [InlineData("POST+key try-timeout, body sent",                   "no: body-sent")]
    // What the caller's body did is the caller's: never retried, whatever else.
    [InlineData("PUT transport, body too-large",                     "no: caller-body")]
    [InlineData("POST never-left, body caller-failed",               "no: caller-body")]
    [InlineData("PUT 502, body too-large",                           "no: body-sent")]
    // Never a success, a 4xx (429 included), 500 or 501; never what no rule covers.
    [InlineData("GET 200",                                           "no: not-retryable-status")]
    [InlineData("GET 404",                                           "no: not-retryable-status")]
    [InlineData("GET 429",                                           "no: not-retryable-status")]
    [InlineData("GET 500",                                           "no: not-retryable-status")]
    [InlineData("GET 501",                                           "no: not-retryable-status")]
    [InlineData("GET other",                                         "no: not-retryable-error")]
    [InlineData("GET cancelled",                                     "no: not-retryable-error")]
    [InlineData("GET no-instance",                                   "no: no-instance")]
    [InlineData("GET upgrade",                                       "no: unexpected-upgrade")]
    [InlineData("GET upgrade, body caller-failed",                   "no: unexpected-upgrade")]
    // A 503's Retry-After is the wait, unless it points past the deadline.
    [InlineData("GET 503, retry-after 5s",                           "retry status_503 after 5s")]
    [InlineData("GET 503, retry-after 0s",                           "retry status_503 after 0s")]
    [InlineData("GET 503, retry-after 5s, 6s left",                  "retry status_503 after 5s")]
    [InlineData("GET 503, retry-after 5s, 5s left",                  "no: retry-after-past-deadline")]
    [InlineData("GET 503, retry-after 60s",                          "no: retry-after-past-deadline")]
    [InlineData("POST 503, retry-after 60s",                         "no: not-idempotent")]
    [InlineData("GET 502, retry-after 60s",                          "retry status_502")]
    // Never beyond Retries, never after the caller left or the deadline fired.
    [InlineData("GET 502, attempt 1 of 2",                           "retry status_502")]
    [InlineData("GET 502, attempt 2 of 2",                           "no: attempts-spent")]
    [InlineData("GET never-left, attempt 0 of 0",                    "no: attempts-spent")]
    [InlineData("GET 200, attempt 0 of 0",                           "no: attempts-spent")]
    [InlineData("GET 502, ended",                                    "no: call-ended")]
    [InlineData("POST never-left, ended",                            "no: call-ended")]
    [InlineData("GET 502, attempt 2 of 2, ended",                    "no: attempts-spent")]
    public void Decide_AppliesTheRetryRules(string attempt, string decision)
    {
        Assert.Equal(decision, Describe(RetryDecider.Decide(Facts(attempt))));
    }

    [Theory]
    //          attempt                         budget paid   decision
    [InlineData("GET 502",                      true,         "retry status_502")]
    [InlineData("GET 502",                      false,        "no: budget-exhausted")]
    [InlineData("GET 503, retry-after 5s",      true,         "retry status_503 after 5s")]
    [InlineData("GET 503, retry-after 5s",      false,        "no: budget-exhausted")]
    [InlineData("POST never-left",              false,        "no: budget-exhausted")]
    [InlineData("POST 502",                     true,         "no: not-idempotent")]
    [InlineData("POST 502",                     false,        "no: not-idempotent")]
    [InlineData("GET 200",                      false,        "no: not-retryable-status")]
    public void Settle_TurnsAYesTheBudgetCannotPayIntoANo_AndLeavesANoAlone(string attempt, bool paid, string decision)
    {
        Assert.Equal(decision, Describe(RetryDecider.Settle(RetryDecider.Decide(Facts(attempt)), paid)));
    }

    [Fact]
    public void Settle_KeepsTheReasonOfTheRetryTheBudgetRefused()
    {
        var settled = RetryDecider.Settle(RetryDecider.Decide(Facts("GET 504")), budgetPaid: false);

        Assert.Equal(RetryReason.Status504, settled.Reason);
        Assert.Null(settled.Delay);
    }

    [Theory]
    [InlineData("GET", false, true)]
    [InlineData("HEAD", false, true)]
    [InlineData("OPTIONS", false, true)]
    [InlineData("PUT", false, true)]
    [InlineData("DELETE", false, true)]
    [InlineData("delete", false, true)]
    [InlineData("POST", false, false)]
    [InlineData("PATCH", false, false)]
    [InlineData("PROPFIND", false, false)]
    [InlineData("POST", true, true)]
    [InlineData("PATCH", true, true)]
    public void IsIdempotent_TheSafeMethodsPutDelete_OrAnIdempotencyKey(string method, bool key, bool idempotent)
    {
        Assert.Equal(idempotent, RetryDecider.IsIdempotent(method, key));
    }

    [Theory]
    [InlineData("never-left", "NeverLeft")]
    [InlineData("refused", "NeverLeft")]
    [InlineData("connect-timeout", "NeverLeft")]
    [InlineData("try-timeout", "TryTimeout")]
    [InlineData("transport", "TransportError")]
    [InlineData("io", "TransportError")]
    [InlineData("no-instance", "NoInstance")]
    [InlineData("upgrade", "UnexpectedUpgrade")]
    [InlineData("other", "OtherError")]
    [InlineData("cancelled", "OtherError")]
    public void Classify_NamesWhatAnAttemptThrew(string failure, string result)
    {
        Assert.Equal(result, RetryDecider.Classify(Failure(failure)).ToString());
    }

    public static TheoryData<string?, double?> RetryAfters => new()
    {
        { null, null },
        { "delta 0", 0 },
        { "delta 7", 7 },
        { "date +30", 30 },
        { "date -30", 0 },
    };

    [Theory]
    [MemberData(nameof(RetryAfters))]
    public void RetryAfter_IsADelayFromNow_NeverNegative(string? header, double? seconds)
    {
        var now = new DateTimeOffset(2026, 4, 12, 21, 23, 34, TimeSpan.Zero);
        RetryConditionHeaderValue? value = header?.Split(' ') switch
        {
            null => null,
            ["delta", var delta] => new RetryConditionHeaderValue(TimeSpan.FromSeconds(int.Parse(delta, System.Globalization.CultureInfo.InvariantCulture))),
            [_, var offset] => new RetryConditionHeaderValue(now.AddSeconds(int.Parse(offset, System.Globalization.CultureInfo.InvariantCulture))),
            _ => throw new ArgumentException(header),
        };

        Assert.Equal(seconds is { } s ? TimeSpan.FromSeconds(s) : null, RetryDecider.RetryAfter(value, now));
    }
}

using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Sidecar.Forwarding;

/// <summary>
/// The Polly v8 pipelines of one service, built once from its policy (docs/forwarding.md#deadlines-retries-ejection):
/// <list type="bullet">
/// <item><see cref="Deadline"/>: the total deadline around the whole call, retries and response body
/// included (the policy's <c>Timeout</c>, lowered by <c>X-Request-Timeout</c>).</item>
/// <item><see cref="Attempts"/>: retries (jittered exponential backoff, <c>Retry-After</c> honoured, the
/// decision in <see cref="RetryDecider"/>, asked through <see cref="CallRetries.ShouldHandle"/>) around a per-try time-out.</item>
/// </list>
/// Per-request values travel in the pooled <see cref="ResilienceContext"/>, so the delegates are
/// static and nothing is captured per request.
/// </summary>
internal sealed class ForwardingPipelines
{
    public static readonly ResiliencePropertyKey<CallRetries> CallKey = new("sidecar.forward-call");

    public ForwardingPipelines(ServicePolicy policy, TimeProvider time)
    {
        Deadline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddTimeout(new TimeoutStrategyOptions
            {
                // What is left of it: the first attempt ran before the pipelines (ForwardCall.RunAttemptsAsync).
                TimeoutGenerator = static args => new ValueTask<TimeSpan>(CallOf(args.Context).RemainingDeadline),
            })
            .Build();

        var attempts = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time };
        if (policy.Retries > 0)
        {
            attempts.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = policy.Retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = policy.RetryBackoff,
                MaxDelay = TimeSpan.FromSeconds(5),
                ShouldHandle = static args => new ValueTask<bool>(CallOf(args.Context).ShouldHandle(args.Outcome, args.AttemptNumber)),
                DelayGenerator = static args => new ValueTask<TimeSpan?>(CallOf(args.Context).TakeRetryAfter()),
            });
        }

        Attempts = attempts
            .AddTimeout(new TimeoutStrategyOptions
            {
                // Infinite (no per-try time-out) for streamed uploads: they cannot be retried anyway.
                TimeoutGenerator = static args => new ValueTask<TimeSpan>(CallOf(args.Context).TryTimeout),
            })
            .Build();
    }

    public ResiliencePipeline Deadline { get; }

    public ResiliencePipeline<HttpResponseMessage> Attempts { get; }

    private static CallRetries CallOf(ResilienceContext context) => context.Properties.GetValue(CallKey, null!);
}

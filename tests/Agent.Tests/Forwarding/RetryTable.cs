using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Polly;
using Polly.Timeout;
using Sidecar.Forwarding;
using Sidecar.Observability;

namespace Sidecar.Tests.Forwarding;

/// <summary>
/// The retry rules in words, for the tables of <see cref="RetryDecider"/>. An attempt is written
/// <c>METHOD[+key] OUTCOME[, phrase...]</c>: the outcome a status (<c>200</c>, <c>503</c>...) or one of
/// <see cref="Outcomes"/>' failures; phrases <c>body none|buffered|stream|sent|too-large|caller-failed</c>
/// (default buffered), <c>attempt N of M</c> (default 0 of 2), <c>ended</c> (the caller left or the
/// deadline fired), <c>retry-after Ns</c>, <c>Ns left</c> (default 30 s). A decision is written back as
/// <c>retry REASON [after Ns]</c> or <c>no: WHY</c>.
/// </summary>
internal static partial class RetryTable
{
    /// <summary>Every failure an attempt can end with, by name.</summary>
    public static readonly string[] Failures = ["never-left", "refused", "connect-timeout", "try-timeout", "transport", "io", "no-instance", "upgrade", "other", "cancelled"];

    /// <summary>The statuses the tables use: successes, the caller's errors, the instance's errors.</summary>
    public static readonly string[] Statuses = ["200", "204", "400", "404", "429", "500", "501", "502", "503", "503 retry-after 5s", "503 retry-after 60s", "504"];

    /// <summary>Every outcome of an attempt the tables use.</summary>
    public static IEnumerable<string> Outcomes => Statuses.Concat(Failures);

    public static readonly string[] Bodies = ["none", "buffered", "stream", "sent", "too-large", "caller-failed"];

    public static readonly string[] Methods = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"];

    public static RetryFacts Facts(string attempt)
    {
        var parts = attempt.Split(',', StringSplitOptions.TrimEntries);
        var head = parts[0].Split(' ', 2);
        var (method, key) = Method(head[0]);
        var outcome = head[1];
        var status = int.TryParse(outcome, NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? code : 0;
        var facts = new RetryFacts(
            status > 0 ? AttemptResult.Response : RetryDecider.Classify(Failure(outcome)),
            status, BodyState.Replayable, RetryDecider.IsIdempotent(method, key), AttemptNumber: 0, MaxRetries: 2,
            CallEnded: false, RetryAfter: null, DeadlineLeft: TimeSpan.FromSeconds(30));
        foreach (var phrase in parts.Skip(1))
        {
            facts = phrase switch
            {
                "ended" => facts with { CallEnded = true },
                _ when phrase.StartsWith("body ", StringComparison.Ordinal) => facts with { Body = State(phrase[5..]) },
                _ when AttemptOf().Match(phrase) is { Success: true } m => facts with { AttemptNumber = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), MaxRetries = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) },
                _ when phrase.StartsWith("retry-after ", StringComparison.Ordinal) => facts with { RetryAfter = Seconds(phrase[12..]) },
                _ when phrase.EndsWith(" left", StringComparison.Ordinal) => facts with { DeadlineLeft = Seconds(phrase[..^5]) },
                _ => throw new ArgumentException($"unknown phrase '{phrase}' in '{attempt}'"),
            };
        }

        return facts;
    }

    /// <summary>A method and whether the request has an <c>Idempotency-Key</c> (<c>POST+key</c>).</summary>
    public static (string Method, bool Key) Method(string text) =>
        text.EndsWith("+key", StringComparison.Ordinal) ? (text[..^4], true) : (text, false);

    public static BodyState State(string body) => body switch
    {
        "none" or "buffered" => BodyState.Replayable,
        "stream" => BodyState.StreamUnread,
        "sent" => BodyState.StreamSent,
        "too-large" => BodyState.TooLarge,
        "caller-failed" => BodyState.CallerFailed,
        _ => throw new ArgumentException($"unknown body '{body}'"),
    };

    /// <summary>A real exception of the kind named, as SocketsHttpHandler, Polly or the forwarder throw it.</summary>
    public static Exception Failure(string name) => name switch
    {
        "never-left" => new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (orders:8080)"),
        "refused" => new HttpRequestException("An error occurred while sending the request.", new SocketException((int)SocketError.ConnectionRefused)),
        "connect-timeout" => new TaskCanceledException("The operation was canceled.", new TimeoutException("connect")),
        "try-timeout" => new TimeoutRejectedException("The per-try time-out elapsed.", TimeSpan.FromSeconds(10)),
        "transport" => new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely."),
        "io" => new IOException("Connection reset by peer"),
        "no-instance" => new NoInstanceException(),
        "upgrade" => new UnexpectedUpgradeException(),
        "other" => new InvalidOperationException("something else"),
        "cancelled" => new OperationCanceledException(),
        _ => throw new ArgumentException($"unknown failure '{name}'"),
    };

    /// <summary>An outcome as an attempt returns it: a response (with its <c>Retry-After</c>) or a failure.</summary>
    public static Outcome<HttpResponseMessage> Outcome(string outcome)
    {
        var parts = outcome.Split(' ');
        if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var status))
        {
            return Polly.Outcome.FromException<HttpResponseMessage>(Failure(outcome));
        }

        var response = new HttpResponseMessage((HttpStatusCode)status);
        if (parts is [_, "retry-after", var delay])
        {
            response.Headers.RetryAfter = new RetryConditionHeaderValue(Seconds(delay));
        }

        return Polly.Outcome.FromResult(response);
    }

    /// <summary>A real request body in the state named (streams over memory; no socket).</summary>
    public static async Task<RequestBody> Body(string body)
    {
        switch (body)
        {
            case "none":
                return RequestBody.None;
            case "buffered":
                return new RequestBody("hello"u8.ToArray(), null);
            case "stream":
                return new RequestBody(null, new ForwardedRequestStream(new MemoryStream(new byte[64]), [], 64, 0));
        }

        var stream = body switch
        {
            "sent" => new ForwardedRequestStream(new MemoryStream(new byte[64]), [], 64, 0),
            "too-large" => new ForwardedRequestStream(new MemoryStream(new byte[64]), [], null, 16),
            "caller-failed" => new ForwardedRequestStream(new FailingStream(), [], null, 0),
            _ => throw new ArgumentException($"unknown body '{body}'"),
        };

        try
        {
            // One read is the point (the first byte sent), not the whole body.
#pragma warning disable CA2022
            await stream.ReadAsync(new byte[32]);
#pragma warning restore CA2022
        }
        catch (IOException)
        {
            // too large, or the caller's body broke: what the stream remembers is the point
        }

        return new RequestBody(null, stream);
    }

    /// <summary>A decision in words.</summary>
    public static string Describe(RetryDecision decision) =>
        decision.Retry
            ? $"retry {decision.Reason.Label()}" + (decision.Delay is { } delay ? $" after {delay.TotalSeconds:0.###}s" : "")
            : "no: " + Kebab().Replace(decision.Why.ToString(), "$1-$2").ToLowerInvariant();

    private static TimeSpan Seconds(string text) =>
        TimeSpan.FromSeconds(double.Parse(text.TrimEnd('s'), CultureInfo.InvariantCulture));

    [GeneratedRegex(@"^attempt (\d+) of (\d+)$")]
    private static partial Regex AttemptOf();

    [GeneratedRegex("([a-z0-9])([A-Z])")]
    private static partial Regex Kebab();

    /// <summary>A caller's body that breaks on the first read.</summary>
    private sealed class FailingStream : MemoryStream
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException<int>(new IOException("the caller's connection broke"));
    }
}

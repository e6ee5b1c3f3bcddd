using System.Globalization;
using System.Text.RegularExpressions;
using Sidecar.Health;
using Sidecar.Registration;
using static Sidecar.Registration.LeaseAction;
using static Sidecar.Registration.LeaseNote;

namespace Sidecar.Tests.Registration;

/// <summary>
/// The lease's rules in words, for the tables of <see cref="LeaseDecider"/>: states built from short
/// phrases (<see cref="Given"/>), the app's wish (<see cref="Wish"/>), Eureka's answers (<see cref="Answer"/>),
/// and decisions, notes and state changes written back as text. Every time is relative to <see cref="T0"/>,
/// the moment of the question unless a wish says <c>at +Ns</c>; a renew interval of 30 s, a drain of 65 s.
/// </summary>
internal static partial class LeaseTable
{
    public const string Server = "http://eureka-a/eureka/";
    public const string Error = "connection refused";
    public static readonly DateTimeOffset T0 = new(2026, 4, 12, 21, 23, 34, TimeSpan.Zero);
    public static readonly TimeSpan RenewInterval = TimeSpan.FromSeconds(30);
    public static readonly LeaseDecider Decider = new(RenewInterval, TimeSpan.FromSeconds(65));

    /// <summary>
    /// A state from comma-separated phrases: <c>new</c> (before the first registration); a status (<c>UP</c>,
    /// <c>DOWN</c>, <c>STARTING</c>: registered, renewed 10 s ago, read back; <c>OUT_OF_SERVICE</c>: the same with
    /// the override); <c>lost lease</c> (registered once, the lease unknown now); <c>renew due</c>,
    /// <c>renew at +Ns</c>, <c>retry at +Ns</c>, <c>retry delay Ns</c>, <c>not read back</c>, <c>read back at +Ns</c>,
    /// <c>read back failed N times</c>, <c>no token</c> (the next at +15 s), <c>holding S</c>,
    /// <c>out of service since -Ns</c>, <c>dirty +Nms</c>, <c>stopping at +Ns</c>, <c>cancelled</c>, <c>registration unanswered</c> (a register sent, its answer cut short).
    /// </summary>
    public static LeaseState Given(string phrases)
    {
        var state = LeaseDecider.Initial(new StatusUpdateRateLimiter(2, 4, T0), "registering with " + Server);
        foreach (var phrase in phrases.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            state = Phrase(state, phrase);
        }

        return state;
    }

    /// <summary>The app's wish: a status (<c>OUT_OF_SERVICE</c> is the app's own override) or <c>draining</c>, optionally <c>at +Ns</c>.</summary>
    public static LeaseInput Wish(string text)
    {
        var match = AtSuffix().Match(text);
        var now = match.Success ? T0 + Seconds(match.Groups[1].Value) : T0;
        var wish = match.Success ? text[..match.Index] : text;
        return wish switch
        {
            "draining" => new LeaseInput(LeaseStatus.OutOfService, true, now),
            "OUT_OF_SERVICE" => new LeaseInput(LeaseStatus.OutOfService, false, now),
            _ => new LeaseInput(LeaseStatus.Of(Status(wish)), false, now),
        };
    }

    /// <summary>An answer: <c>200</c>, <c>204</c>, <c>404</c>, <c>fail</c> (every server: connection refused), <c>holds S</c> or <c>unreadable</c> (a read-back's 200), <c>marker</c>, <c>no marker</c>.</summary>
    public static LeaseOutcome Answer(string text) => text switch
    {
        "200" or "204" => new LeaseOutcome(LeaseAnswer.Succeeded, Server, text),
        "404" => new LeaseOutcome(LeaseAnswer.NotFound, Server, "404"),
        "fail" => new LeaseOutcome(LeaseAnswer.Failed, Server, Error),
        "unreadable" => new LeaseOutcome(LeaseAnswer.Succeeded, Server, "200"),
        "marker" => LeaseOutcome.Marker(true),
        "no marker" => LeaseOutcome.Marker(false),
        _ when text.StartsWith("holds ", StringComparison.Ordinal) => new LeaseOutcome(LeaseAnswer.Succeeded, Server, "200") { HeldOverride = Status(text[6..]) },
        _ => throw new ArgumentException($"no such answer: {text}", nameof(text)),
    };

    /// <summary>A round (<see cref="LeaseDecider.Next"/>), then each answer to the call it decided and to the calls that follow.</summary>
    public static Round Run(string given, string wish, string answers)
    {
        var input = Wish(wish);
        var before = Given(given);
        return Answered(before, LeaseDecider.Next(before, input), input, answers);
    }

    /// <summary>Answers the calls of <paramref name="decision"/> in turn.</summary>
    public static Round Answered(LeaseState before, LeaseDecision decision, LeaseInput input, string answers)
    {
        var calls = new List<string>();
        var notes = new List<LeaseNote>(decision.Notes);
        foreach (var answer in answers.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.False(decision.Action is Wait, $"no call left for the answer {answer}: {Text(decision.Action)}");
            calls.Add(Text(decision.Action));
            decision = Decider.Apply(decision.State, decision.Action, Answer(answer), input);
            notes.AddRange(decision.Notes);
        }

        return new Round(string.Join(", ", calls), Text(decision.Action), Text(notes), Changes(before, decision.State), decision);
    }

    public static string Text(LeaseAction action) => action switch
    {
        Wait wait => "wait " + Rel(wait.Until),
        Register register => "register " + Text(register.Status),
        Renew { HeldUntil: { } held } renew => $"renew {renew.Status.ToWire()}, held until {Rel(held)}",
        Renew renew => "renew " + renew.Status.ToWire(),
        SetOverride => "put OUT_OF_SERVICE",
        RemoveOverride remove => "delete override, " + remove.Status.ToWire(),
        ReadBack => "read back",
        ReadMarker marker => "read marker " + marker.Held.ToWire(),
        LeaseAction.Cancel => "cancel",
        _ => throw new ArgumentOutOfRangeException(nameof(action)),
    };

    public static string Text(IEnumerable<LeaseNote> notes) => string.Join("; ", notes.Select(note => note switch
    {
        Registered registered => "registered " + registered.Status.ToWire(),
        StatusSent sent => $"{sent.Previous.ToWire()} -> {sent.Status.ToWire()} by {sent.Operation}",
        LeaseUnknown unknown => "404 to " + unknown.Operation,
        Failed failed => $"{failed.Operation} failed, retry in {Span(failed.RetryIn)}",
        FailedAtShutdown failed => $"{failed.Operation} failed, not retried",
        RateLimited limited => $"{limited.Status.ToWire()} held until {Rel(limited.NextAt)}",
        ReadBackGivenUp givenUp => $"read-back given up after {givenUp.Attempts}",
        InheritedOverride inherited => "inherited " + inherited.Status.ToWire(),
        OperatorOverride theirs => "operator's " + theirs.Status.ToWire(),
        RememberOverride => "remember override",
        ForgetOverride => "forget override",
        Cancelled => "cancelled",
        CancelFailed failed => "cancel failed: " + failed.Error,
        _ => throw new ArgumentOutOfRangeException(nameof(notes)),
    }));

    /// <summary>The rules' own fields that differ, in a fixed order, as <c>name=value</c>.</summary>
    public static string Changes(LeaseState before, LeaseState after)
    {
        var changes = new List<string>();
        void Field(string name, Func<LeaseState, string> value)
        {
            if (value(before) != value(after))
            {
                changes.Add($"{name}={value(after)}");
            }
        }

        Field("lease", s => s.Reported is { } reported ? Text(reported) : "none");
        Field("dirty", s => (s.LastDirtyTimestamp - T0.ToUnixTimeMilliseconds()).ToString("+0;-0", CultureInfo.InvariantCulture) + "ms");
        Field("renew", s => Rel(s.NextRenew));
        Field("retry", s => Rel(s.RetryAt));
        Field("delay", s => Span(s.RetryDelay));
        Field("readBack", s => s.ReadBackDone ? "done" : "pending");
        Field("readBackAt", s => Rel(s.ReadBackAt));
        Field("failures", s => s.ReadBackFailures.ToString(CultureInfo.InvariantCulture));
        Field("held", s => s.HeldStatus?.ToWire() ?? "none");
        Field("oosSince", s => s.OutOfServiceSince is { } since ? Rel(since) : "none");
        Field("registered", s => s.EverRegistered ? "yes" : "no");
        Field("stop", s => s.Stop is not { } stop ? "none"
            : (stop.Drains ? "drain" : "no drain") + (stop.OutOfServiceBefore is { } from ? " from " + Rel(from) : "") + " until " + Rel(stop.CancelAt));
        Field("cancelled", s => s.Cancelled ? "yes" : "no");
        Field("deregistered", s => s.Deregistered ? "yes" : "no");
        return string.Join(" ", changes);
    }

    /// <summary>What the rest of the agent reads of the lease: readiness, the last heartbeat, the status accepted, the last failure.</summary>
    public static string Seen(LeaseState state) =>
        $"{(state.Readiness.Ready ? "ready" : "not ready")}: {state.Readiness.Detail} | heartbeat {(state.LastHeartbeat is { } beat ? Rel(beat) : "none")}"
        + $" | accepted {state.Accepted?.ToWire() ?? "none"} | last failure {state.LastFailure ?? "none"}";

    public static string Text(LeaseStatus status) => status.Override ? status.Status.ToWire() + "!" : status.Status.ToWire();

    public static string Rel(DateTimeOffset at) => at == DateTimeOffset.MinValue ? "-inf" : (at - T0 < TimeSpan.Zero ? "-" : "+") + Span((at - T0).Duration());

    public static string Span(TimeSpan span) => span.Ticks % TimeSpan.TicksPerSecond == 0
        ? ((long)span.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s"
        : ((long)span.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";

    private static LeaseState Phrase(LeaseState state, string phrase)
    {
        if (phrase == "new")
        {
            return state;
        }

        if (InstanceStatusNames.TryParse(phrase, out var status) && phrase == status.ToWire())
        {
            var reported = status == InstanceStatus.OutOfService ? LeaseStatus.OutOfService : LeaseStatus.Of(status);
            return state with
            {
                Reported = reported,
                EverRegistered = true,
                LastDirtyTimestamp = T0.ToUnixTimeMilliseconds() - 10_000,
                NextRenew = T0 + TimeSpan.FromSeconds(20),
                ReadBackDone = true,
                LastHeartbeat = T0 - TimeSpan.FromSeconds(10),
                Accepted = status,
                Readiness = new ReadinessResult(true, $"registered with {Server} as {status.ToWire()}"),
            };
        }

        var match = Numbered().Match(phrase);
        var n = match.Success ? match.Groups["n"].Value : "";
        return (match.Success ? match.Groups["what"].Value : phrase) switch
        {
            "lost lease" => state with { Reported = null, EverRegistered = true, Readiness = new ReadinessResult(true, $"registered with {Server} as UP") },
            "renew due" => state with { NextRenew = T0 },
            "renew at" => state with { NextRenew = T0 + Seconds(n) },
            "retry at" => state with { RetryAt = T0 + Seconds(n) },
            "retry delay" => state with { RetryDelay = Seconds(n) },
            "not read back" => state with { ReadBackDone = false },
            "read back at" => state with { ReadBackDone = false, ReadBackAt = T0 + Seconds(n) },
            "read back failed" => state with { ReadBackDone = false, ReadBackFailures = int.Parse(n, CultureInfo.InvariantCulture) },
            "no token" => state with { Tokens = Drained(state.Tokens) },
            "out of service since" => state with { OutOfServiceSince = T0 + Seconds(n) },
            "dirty" => state with { LastDirtyTimestamp = T0.ToUnixTimeMilliseconds() + long.Parse(n, CultureInfo.InvariantCulture) },
            "stopping at" => state with { Stop = new LeaseStop(true, null, T0 + Seconds(n)) },
            "cancelled" => state with { Cancelled = true },
            "registration unanswered" => state with { RegistrationUnanswered = true },
            _ when phrase.StartsWith("holding ", StringComparison.Ordinal) => state with { HeldStatus = Status(phrase[8..]) },
            _ => throw new ArgumentException($"no such phrase: {phrase}", nameof(phrase)),
        };
    }

    private static StatusUpdateRateLimiter Drained(StatusUpdateRateLimiter tokens)
    {
        while (tokens.TryTake(T0, out tokens, out _))
        {
        }

        return tokens;
    }

    private static InstanceStatus Status(string text) =>
        InstanceStatusNames.TryParse(text, out var status) ? status : throw new ArgumentException($"no such status: {text}", nameof(text));

    private static TimeSpan Seconds(string text) => TimeSpan.FromSeconds(int.Parse(text, CultureInfo.InvariantCulture));

    [GeneratedRegex(@" at (\+\d+)s$")]
    private static partial Regex AtSuffix();

    [GeneratedRegex(@"^(?<what>[a-z ]+?) (?<n>[+-]?\d+)(s|ms| times)?$")]
    private static partial Regex Numbered();

    /// <summary>What came of a round: the calls made, what the decider said after the last answer, the notes, the changes, and the last decision.</summary>
    internal sealed record Round(string Calls, string Then, string Notes, string Changes, LeaseDecision Last);
}

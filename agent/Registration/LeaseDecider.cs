using static Sidecar.Registration.LeaseAction;
using static Sidecar.Registration.LeaseNote;
using Sidecar.Eureka;
using Sidecar.Health;

namespace Sidecar.Registration;

/// <summary>
/// The rules of the lease (docs/eureka.md#lifecycle), with no I/O: from the state and what the world looks
/// like, what to send next (<see cref="Next"/>); from what came back, the next state (<see cref="Apply"/>);
/// at SIGTERM, the OUT_OF_SERVICE and the drain (<see cref="BeginStop"/>, <see cref="PlanDrain"/>), then the
/// cancel (<see cref="Cancel"/>). <see cref="EurekaRegistrationService"/> performs the decisions.
/// <list type="bullet">
/// <item>register at start; renew every renew interval; a renew answered 404, or failed on every server,
/// registers again, backing off from 1 s to the renew interval while every server fails;</item>
/// <item>a health change re-registers (Steeltoe v4 and Netflix do the same); OUT_OF_SERVICE and its end go
/// through the override API, because a server keeps an existing UP or OUT_OF_SERVICE against a client's
/// re-registration (Netflix's LeaseExistsRule); both within one rate limit (Netflix's
/// InstanceInfoReplicator limits both), only the latest state is sent, renewals go on while a change
/// waits; the drain's OUT_OF_SERVICE alone goes at once;</item>
/// <item>after the first registration of this process, the instance is read back (up to 5 attempts): an
/// OUT_OF_SERVICE override that an earlier run of this agent left is removed, an operator's stays.</item>
/// </list>
/// </summary>
internal sealed class LeaseDecider(TimeSpan renewInterval, TimeSpan drain)
{
    internal const int MaxReadBackAttempts = 5; // 1 + 2 + 4 + 8 s apart (at most a renew interval): an outage right after the start does not end it
    internal static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>Before the first round: no lease, nothing sent.</summary>
    public static LeaseState Initial(StatusUpdateRateLimiter tokens, string registering) =>
        new() { Tokens = tokens, Readiness = new ReadinessResult(false, registering) };

    /// <summary>One round: register, send a status change, read back, or renew, whichever is due; or wait.</summary>
    public static LeaseDecision Next(LeaseState state, LeaseInput input)
    {
        var now = input.Now;
        var notes = new List<LeaseNote>();
        if (state.Reported is not { } reported)
        {
            return now < state.RetryAt
                ? new(state, new Wait(state.RetryAt), notes)
                : new(state with { RegistrationUnanswered = true }, new Register(input.Desired, NextDirtyTimestamp(state, now)), notes);
        }

        if (input.Desired != reported)
        {
            DateTimeOffset heldUntil;
            if (now < state.RetryAt)
            {
                heldUntil = state.RetryAt; // a failed change waits for its retry
            }
            else
            {
                (state, var send, var until) = Sync(state, input, notes);
                if (send is not null)
                {
                    return new(state, send, notes);
                }

                heldUntil = until;
            }

            // The change waits (for a token, or for the retry after a failure); the lease must not, or
            // Eureka evicts the instance meanwhile, and a renew time already past would make the loop spin.
            return now >= state.NextRenew
                ? new(state, new Renew(reported.Status, state.LastDirtyTimestamp, heldUntil), notes)
                : new(state, new Wait(Earliest(heldUntil, state.NextRenew)), notes);
        }

        state = state with { HeldStatus = null }; // nothing waits for a token now: the next hold is said again

        // After status changes, on a schedule of its own: the read-back never holds up a change or a renewal.
        if (!state.ReadBackDone && now >= state.ReadBackAt)
        {
            return new(state, new ReadBack(), notes);
        }

        if (now >= state.NextRenew)
        {
            return new(state, new Renew(reported.Status, state.LastDirtyTimestamp), notes);
        }

        return new(state, new Wait(state.ReadBackDone ? state.NextRenew : Earliest(state.ReadBackAt, state.NextRenew)), notes);
    }

    /// <summary>What came of <paramref name="action"/> (decided on <paramref name="state"/>): the next state, and when to look again (or one more step).</summary>
    public LeaseDecision Apply(LeaseState state, LeaseAction action, LeaseOutcome outcome, LeaseInput input)
    {
        var notes = new List<LeaseNote>();
        var now = input.Now;
        switch (action)
        {
            case Register register:
                // A first registration that failed waits for its retry; a health change looks again at once.
                state = Registered(state with { RegistrationUnanswered = false }, register, outcome, input, notes);
                return new(state, new Wait(state.Reported is null ? state.RetryAt : now), notes);

            case SetOverride or RemoveOverride:
                return new(StatusSent(state, action, outcome, input, notes), new Wait(now), notes);

            case Renew renew:
                state = Renewed(state, outcome, input, notes);
                return new(state, new Wait(state.Reported is null ? state.RetryAt : renew.HeldUntil is { } held ? Earliest(held, state.NextRenew) : state.NextRenew), notes);

            case LeaseAction.ReadBack:
                return ReadBackAnswered(state, outcome, input, notes);

            case ReadMarker marker:
                if (outcome.LeftByThisAgent)
                {
                    // Marked as reported, the next round removes it, as an override of this run's own.
                    state = Track(state with { Reported = new LeaseStatus(marker.Held, true) }, input);
                    notes.Add(new InheritedOverride(marker.Server, marker.Held));
                }
                else
                {
                    notes.Add(new OperatorOverride(marker.Server, marker.Held));
                }

                return new(state, new Wait(now), notes);

            case LeaseAction.Cancel:
                if (outcome.Answer == LeaseAnswer.Succeeded)
                {
                    notes.Add(new Cancelled(outcome.Server));
                    notes.Add(new ForgetOverride()); // a cancelled lease takes its override with it (Netflix's internalCancel)
                }
                else
                {
                    notes.Add(new CancelFailed(outcome.Error));
                }

                state = Track(state with { Reported = null, Deregistered = true, Accepted = null }, input);
                return new(state, new Wait(now), notes);

            default:
                throw new ArgumentOutOfRangeException(nameof(action), action, "nothing was sent");
        }
    }

    /// <summary>
    /// SIGTERM, under the same gate as the rounds (a registration whose answer is on its way counts): whether
    /// to drain, and the OUT_OF_SERVICE to send at once. No drain when nobody ever found this instance, when
    /// <paramref name="skipDrain"/> (the supervised app is already gone, or the agent never finished starting).
    /// </summary>
    public LeaseDecision BeginStop(LeaseState state, LeaseInput input, bool skipDrain)
    {
        var drains = state.EverRegistered && drain > TimeSpan.Zero && !skipDrain;

        // Only the app's own OUT_OF_SERVICE counts, from before this stop (Track); a failure from now on is not retried past the cancel.
        state = state with { Stop = new LeaseStop(drains, state.OutOfServiceSince, input.Now + (drains ? drain : TimeSpan.Zero)) };
        var notes = new List<LeaseNote>();
        if (state.Reported is null || input.Desired == state.Reported)
        {
            return new(state, new Wait(input.Now), notes);
        }

        (state, var send, _) = Sync(state, input, notes);
        return new(state, send ?? new Wait(input.Now), notes);
    }

    /// <summary>After <see cref="BeginStop"/> and its call: how long to drain, and when the lease is cancelled.</summary>
    public (LeaseState State, DrainPlan Plan) PlanDrain(LeaseState state, DateTimeOffset now)
    {
        var stop = state.Stop ?? throw new InvalidOperationException("the drain is planned after BeginStop");
        var inEureka = state.Reported is { Override: true };
        var remaining = drain;
        if (inEureka && stop.OutOfServiceBefore is { } since)
        {
            // The app went OUT_OF_SERVICE before (its preStop's PUT /v1/registration/status, or its health):
            // callers have been moving away since then, so only the rest of the drain is left.
            remaining = drain - (now - since);
        }

        var wait = stop.Drains && remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
        state = state with { Stop = stop with { CancelAt = now + wait } };
        return (state, new DrainPlan(stop.Drains, remaining, drain - remaining, inEureka, state.LastFailure ?? "not registered"));
    }

    /// <summary>SIGTERM, last step (after the loop stopped): the cancel, once, when the instance was ever registered or a registration went unanswered.</summary>
    public static LeaseDecision Cancel(LeaseState state, DateTimeOffset now) =>
        !(state.EverRegistered || state.RegistrationUnanswered) || state.Cancelled
            ? new(state, new Wait(now), [])
            : new(state with { Cancelled = true }, new LeaseAction.Cancel(), []);

    /// <summary>The call that sends a status change, or, when it must wait for a token, until when.</summary>
    private static (LeaseState State, LeaseAction? Send, DateTimeOffset HeldUntil) Sync(LeaseState state, LeaseInput input, List<LeaseNote> notes)
    {
        var desired = input.Desired;
        var reported = state.Reported!;
        var overrideChange = desired.Override != reported.Override;

        // The app's OUT_OF_SERVICE and its end go through the override API, within the same rate limit as
        // health changes (an app toggling its status must not flood Eureka: issue 13); the drain's at once.
        if (!overrideChange || !input.Draining)
        {
            var taken = state.Tokens.TryTake(input.Now, out var tokens, out var nextAt);
            if (!taken)
            {
                // Said once per held status: the loop looks again at every renew while it waits.
                if (state.HeldStatus != desired.Status)
                {
                    notes.Add(new RateLimited(desired.Status, nextAt));
                }

                return (state with { Tokens = tokens, HeldStatus = desired.Status }, null, nextAt);
            }

            state = state with { Tokens = tokens, HeldStatus = null };
        }

        var dirty = NextDirtyTimestamp(state, input.Now);
        LeaseAction send = !overrideChange ? new Register(desired, dirty)
            : desired.Override ? new SetOverride(dirty)
            : new RemoveOverride(desired.Status, dirty);
        return (state, send, default);
    }

    private LeaseState Registered(LeaseState state, Register register, LeaseOutcome outcome, LeaseInput input, List<LeaseNote> notes)
    {
        if (outcome.Answer != LeaseAnswer.Succeeded)
        {
            return Failed(state, "register", outcome.Error, input.Now, notes);
        }

        var desired = register.Status;
        if (desired.Override)
        {
            notes.Add(new RememberOverride()); // the server takes the body's override when it holds none
        }

        // A re-registration never removes an override the server holds: keep it as reported, so the next round deletes it.
        var previous = state.Reported;
        var keptOverride = previous is { Override: true } && !desired.Override;
        state = Track(state with { Reported = keptOverride ? LeaseStatus.OutOfService : desired }, input) with
        {
            LastDirtyTimestamp = register.DirtyTimestamp,
            NextRenew = input.Now + renewInterval,
            RetryDelay = FirstRetryDelay,
            RetryAt = DateTimeOffset.MinValue,
            EverRegistered = true,
        };
        notes.Add(new Registered(outcome.Server, desired.Status));
        state = Heartbeat(state, outcome.Server, input.Now);
        if (previous is not null)
        {
            notes.Add(new StatusSent(previous.Status, desired.Status, "registration"));
        }

        return state;
    }

    private LeaseState StatusSent(LeaseState state, LeaseAction action, LeaseOutcome outcome, LeaseInput input, List<LeaseNote> notes)
    {
        var (desired, dirty, operation) = action switch
        {
            SetOverride set => (LeaseStatus.OutOfService, set.DirtyTimestamp, "status override"),
            RemoveOverride remove => (LeaseStatus.Of(remove.Status), remove.DirtyTimestamp, "status override removal"),
            _ => throw new ArgumentOutOfRangeException(nameof(action), action, "not a status change"),
        };
        switch (outcome.Answer)
        {
            case LeaseAnswer.Succeeded:
                notes.Add(desired.Override ? new RememberOverride() : new ForgetOverride());
                var previous = state.Reported!.Status;
                state = Track(state with { Reported = desired, LastDirtyTimestamp = dirty }, input);
                notes.Add(new StatusSent(previous, desired.Status, operation));
                return Heartbeat(state, outcome.Server, input.Now);
            case LeaseAnswer.NotFound:
                // The server lost the lease (restart, eviction): register again, with the status it should have.
                return LeaseLost(state, operation, outcome.Server, input, notes);
            default:
                return Failed(state, operation, outcome.Error, input.Now, notes);
        }
    }

    private LeaseState Renewed(LeaseState state, LeaseOutcome outcome, LeaseInput input, List<LeaseNote> notes) => outcome.Answer switch
    {
        LeaseAnswer.Succeeded => Heartbeat(state with { NextRenew = input.Now + renewInterval }, outcome.Server, input.Now),

        // Lease unknown (server restarted or evicted us) or our dirty timestamp is newer: register again now.
        LeaseAnswer.NotFound => LeaseLost(state, "renew", outcome.Server, input, notes),

        // Every server failed: the lease may be gone by the time one is back, so register again (docs/eureka.md#lifecycle).
        _ => Failed(Track(state with { Reported = null }, input), "renew", outcome.Error, input.Now, notes),
    };

    /// <summary>
    /// Once per process, after its first registration: a server keeps an OUT_OF_SERVICE override against a
    /// re-registration, so one left by a previous run with this instance id (its app's PUT
    /// /v1/registration/status, or a drain cut short before the cancel) would outlive this start, renewed for
    /// ever while the agent reports UP. Only one this agent left (the marker says so) is removed.
    /// </summary>
    private LeaseDecision ReadBackAnswered(LeaseState state, LeaseOutcome outcome, LeaseInput input, List<LeaseNote> notes)
    {
        var now = input.Now;
        if (outcome.Answer == LeaseAnswer.NotFound)
        {
            state = LeaseLost(state, "read-back", outcome.Server, input, notes);
            return new(state, new Wait(state.RetryAt), notes);
        }

        if (outcome.Answer == LeaseAnswer.Failed)
        {
            // A server that refuses the read (a proxy's 403, say) must not cost a failure every renew for ever.
            var failures = state.ReadBackFailures + 1;
            if (failures >= MaxReadBackAttempts)
            {
                notes.Add(new ReadBackGivenUp(MaxReadBackAttempts, outcome.Error));
                return new(state with { ReadBackFailures = failures, ReadBackDone = true }, new Wait(now), notes);
            }

            var delay = TimeSpan.FromTicks(Math.Min(FirstRetryDelay.Ticks << (failures - 1), renewInterval.Ticks));
            notes.Add(new Failed("read-back", outcome.Error, delay));
            return new(state with { ReadBackFailures = failures, ReadBackAt = now + delay }, new Wait(now), notes);
        }

        state = state with { ReadBackDone = true };
        if (state.Reported!.Override)
        {
            return new(state, new Wait(now), notes); // the app took the instance out meanwhile: the override is this run's own
        }

        switch (outcome.HeldOverride)
        {
            case null or InstanceStatus.Unknown:
                notes.Add(new ForgetOverride()); // nothing held: whatever an earlier run remembered is gone
                return new(state, new Wait(now), notes);
            case InstanceStatus.OutOfService:
                return new(state, new ReadMarker(InstanceStatus.OutOfService, outcome.Server), notes);
            default:
                notes.Add(new OperatorOverride(outcome.Server, outcome.HeldOverride.Value));
                return new(state, new Wait(now), notes);
        }
    }

    private static LeaseState LeaseLost(LeaseState state, string operation, string server, LeaseInput input, List<LeaseNote> notes)
    {
        notes.Add(new LeaseUnknown(operation, server));
        return Track(state with { Reported = null, RetryAt = DateTimeOffset.MinValue }, input);
    }

    // Backs off from 1 s to the renew interval while every server fails.
    private LeaseState Failed(LeaseState state, string operation, string error, DateTimeOffset now, List<LeaseNote> notes)
    {
        var delay = state.RetryDelay;
        var retryAt = now + delay;
        notes.Add(retryAt >= state.Stop?.CancelAt ? new FailedAtShutdown(operation, error) : new Failed(operation, error, delay));
        return state with
        {
            RetryAt = retryAt,
            RetryDelay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, renewInterval.Ticks)),
            LastFailure = $"{operation} failed on every server: {error}",
            Readiness = state.EverRegistered
                ? new ReadinessResult(true, $"registered; last {operation} failed on every Eureka server: {error}")
                : new ReadinessResult(false, $"not registered: {operation} failed on every Eureka server: {error}"),
        };
    }

    private static LeaseState Heartbeat(LeaseState state, string server, DateTimeOffset now) => state with
    {
        LastFailure = null,
        LastHeartbeat = now,
        Accepted = state.Reported?.Status,
        Readiness = new ReadinessResult(true, $"registered with {server} as {state.Reported?.Status.ToWire() ?? "UNKNOWN"}"),
    };

    // After every change of what Eureka holds: when an OUT_OF_SERVICE of the app's own began, kept while it
    // lasts. One the drain caused does not count (the loop, woken by the drain, may send it first).
    private static LeaseState Track(LeaseState state, LeaseInput input) => state with
    {
        OutOfServiceSince = state.Reported is { Override: true } ? state.OutOfServiceSince ?? (input.Draining ? null : input.Now) : null,
    };

    // lastDirtyTimestamp changes with every change of the instance and never goes back, even within one millisecond.
    private static long NextDirtyTimestamp(LeaseState state, DateTimeOffset now) => Math.Max(now.ToUnixTimeMilliseconds(), state.LastDirtyTimestamp + 1);

    private static DateTimeOffset Earliest(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}

using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Sidecar.Platform;

#pragma warning disable CA2012 // the calls in flight are kept to be awaited once each, later: what the test is about

namespace Sidecar.Tests.Platform;

/// <summary>
/// The forwarding path's async method builder (<c>PooledFrameBuilder</c>, docs/performance.md#step-3-begun-what-a-taken-call-allocates):
/// results, exceptions and async locals as the compiler's own builders give them, and a frame reused by the next call
/// whatever the number of calls in flight on a thread.
/// </summary>
[Trait("Category", "Unit")]
public sealed class PooledFramesTests
{
    private static readonly AsyncLocal<string?> Local = new();

    [Fact]
    public async Task Results_WithAndWithoutAwaiting()
    {
        Assert.Equal(7, await ValueAsync(null, 7));
        var gate = new Gate();
        var pending = ValueAsync(gate, 8);
        Assert.False(pending.IsCompleted);
        gate.Open();
        Assert.Equal(8, await pending);

        await NothingAsync(null);
        var gate2 = new Gate();
        var running = NothingAsync(gate2);
        Assert.False(running.IsCompleted);
        gate2.Open();
        await running;
    }

    [Fact]
    public async Task Exceptions_WithAndWithoutAwaiting()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await ThrowAsync(null));
        var gate = new Gate();
        var pending = ThrowAsync(gate);
        gate.Open();
        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(async () => await pending);
        Assert.Equal("after", thrown.Message);

        var gate2 = new Gate();
        var failing = ThrowNothingAsync(gate2);
        gate2.Open();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await failing);
    }

    [Fact]
    public async Task AsyncLocals_FlowIntoTheCall_AndNotBackOut()
    {
        Local.Value = "caller";
        var gate = new Gate();
        var pending = SetLocalAsync(gate);
        Assert.Equal("caller", Local.Value); // the call's own value stays in the call
        gate.Open();
        Assert.Equal("caller|call", await pending);
        Assert.Equal("caller", Local.Value);
    }

    [Fact]
    public async Task ManyCallsInFlight_ReuseTheirFramesOnTheNextRound()
    {
        // A round of 16 calls in flight at once, as 16 connections on one socket thread: each later round takes the
        // first round's frames. The thread's result is what counts: continuations run inline on the test's thread.
        async Task RoundAsync()
        {
            var gates = new Gate[16];
            var calls = new ValueTask<int>[16];
            for (var i = 0; i < calls.Length; i++)
            {
                gates[i] = new Gate();
                calls[i] = ValueAsync(gates[i], i);
            }

            for (var i = 0; i < calls.Length; i++)
            {
                gates[i].Open();
                Assert.Equal(i, await calls[i]);
            }
        }

        await RoundAsync();
        await RoundAsync();
        var frames = PooledFrameCount();
        for (var round = 0; round < 20; round++)
        {
            await RoundAsync();
        }

        Assert.Equal(frames, PooledFrameCount());
        Assert.InRange(frames, 1, 2 * 16);
    }

    // The frames made for ValueAsync's state machine (only this class's tests call it, one test at a time).
    private static int PooledFrameCount()
    {
        var stateMachine = typeof(PooledFramesTests).GetNestedTypes(System.Reflection.BindingFlags.NonPublic).Single(t => t.Name.StartsWith("<ValueAsync>", StringComparison.Ordinal));
        var frame = typeof(PooledFrameBuilder<>).Assembly.GetType("Sidecar.Platform.PooledFrame`2")!.MakeGenericType(typeof(int), stateMachine);
        return (int)frame.GetProperty("Made", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.GetValue(null)!;
    }

    [AsyncMethodBuilder(typeof(PooledFrameBuilder<>))]
    private static async ValueTask<int> ValueAsync(Gate? gate, int value)
    {
        if (gate is not null)
        {
            await gate.Wait().ConfigureAwait(false);
        }

        return value;
    }

    [AsyncMethodBuilder(typeof(PooledFrameBuilder))]
    private static async ValueTask NothingAsync(Gate? gate)
    {
        if (gate is not null)
        {
            await gate.Wait().ConfigureAwait(false);
        }
    }

    [AsyncMethodBuilder(typeof(PooledFrameBuilder<>))]
    private static async ValueTask<int> ThrowAsync(Gate? gate)
    {
        if (gate is not null)
        {
            await gate.Wait().ConfigureAwait(false);
            throw new InvalidOperationException("after");
        }

        throw new InvalidOperationException("before");
    }

    [AsyncMethodBuilder(typeof(PooledFrameBuilder))]
    private static async ValueTask ThrowNothingAsync(Gate gate)
    {
        await gate.Wait().ConfigureAwait(false);
        throw new InvalidOperationException("after");
    }

    [AsyncMethodBuilder(typeof(PooledFrameBuilder<>))]
    private static async ValueTask<string> SetLocalAsync(Gate gate)
    {
        var seen = Local.Value;
        Local.Value = "call";
        await gate.Wait().ConfigureAwait(false);
        return $"{seen}|{Local.Value}";
    }

    /// <summary>An awaitable opened by hand, whose continuation runs inline on the thread that opens it (awaited without the test runner's context).</summary>
    private sealed class Gate : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core;

        public ValueTask Wait() => new(this, _core.Version);

        public void Open() => _core.SetResult(true);

        public void GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}

using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

#pragma warning disable CA1822 // the builder pattern the compiler calls: instance members, whether or not they read the builder

namespace Sidecar.Platform;

/// <summary>
/// The async method builder of the forwarding path's <see cref="ValueTask{TResult}"/> methods
/// (docs/performance.md#step-3-begun-what-a-taken-call-allocates): the frame of a call that awaits (its state machine, moved off the
/// stack) is taken from a stack of up to <see cref="PooledFrame.Kept"/> kept on each thread, and goes
/// back when its result is read. <see cref="PoolingAsyncValueTaskMethodBuilder{TResult}"/> keeps one frame per
/// thread and one per core: with inline I/O, the calls of 16 connections in flight on the one socket thread each
/// allocated their own. A result may be read once, as with that builder.
/// </summary>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Auto)]
internal struct PooledFrameBuilder<TResult>
{
    private PooledFrame<TResult>? _frame;
    private TResult _result;
    private Exception? _exception;

    public static PooledFrameBuilder<TResult> Create() => default;

    /// <summary>The call's frame, once it awaited.</summary>
    internal readonly PooledFrame<TResult>? Frame => _frame;

    /// <summary>What the call threw before it awaited, if anything.</summary>
    internal readonly Exception? Exception => _exception;

    /// <summary>The call's result: its frame while it runs, or what it returned (or threw) without awaiting.</summary>
    public ValueTask<TResult> Task =>
        _frame is { } frame ? new ValueTask<TResult>(frame, frame.Version)
        : _exception is { } exception ? ValueTask.FromException<TResult>(exception)
        : new ValueTask<TResult>(_result);

    public void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine =>
        default(AsyncValueTaskMethodBuilder<TResult>).Start(ref stateMachine); // runs to the first await with the thread's context restored after

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    public void SetResult(TResult result)
    {
        if (_frame is { } frame)
        {
            frame.SetResult(result);
        }
        else
        {
            _result = result;
        }
    }

    public void SetException(Exception exception)
    {
        if (_frame is { } frame)
        {
            frame.SetException(exception);
        }
        else
        {
            _exception = exception;
        }
    }

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        awaiter.OnCompleted(PooledFrame<TResult>.Of(ref _frame, ref stateMachine).MoveNextAction);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        awaiter.UnsafeOnCompleted(PooledFrame<TResult>.Of(ref _frame, ref stateMachine).MoveNextAction);
}

/// <summary><see cref="PooledFrameBuilder{TResult}"/> for methods that return a <see cref="ValueTask"/>: the same builder, of a result of nothing.</summary>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Auto)]
internal struct PooledFrameBuilder
{
    private PooledFrameBuilder<PooledFrame.None> _inner;

    public static PooledFrameBuilder Create() => default;

    public ValueTask Task =>
        _inner.Frame is { } frame ? new ValueTask(frame, frame.Version)
        : _inner.Exception is { } exception ? ValueTask.FromException(exception)
        : default;

    public void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine =>
        default(AsyncValueTaskMethodBuilder).Start(ref stateMachine);

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    public void SetResult() => _inner.SetResult(default);

    public void SetException(Exception exception) => _inner.SetException(exception);

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        _inner.AwaitOnCompleted(ref awaiter, ref stateMachine);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        _inner.AwaitUnsafeOnCompleted(ref awaiter, ref stateMachine);
}

/// <summary>The result of a <see cref="PooledFrameBuilder"/> method, which returns nothing; what every frame shares.</summary>
internal static class PooledFrame
{
    /// <summary>The frames kept per thread and state machine type: enough for the calls of a socket thread's connections in flight.</summary>
    internal const int Kept = 32;

    /// <summary>The frames kept for all threads, per state machine type, when a thread has its <see cref="Kept"/>.</summary>
    internal const int SharedKept = 128;

    /// <summary>Nothing.</summary>
    internal readonly struct None;

    /// <summary>
    /// A frame as the execution context runs it: one callback for all frame types, a static of no generic type. A
    /// generic type's statics are reached through a lookup per access in NativeAOT's code shared between reference
    /// types (a frame of a method returning an object), which cost about 1.5% of a forwarded call's user time.
    /// </summary>
    internal abstract class Resumable
    {
        internal static readonly ContextCallback Run = static s => System.Runtime.CompilerServices.Unsafe.As<Resumable>(s)!.RunStateMachine();

        internal abstract void RunStateMachine();
    }
}

/// <summary>
/// The kept frames of one state machine type (docs/performance.md#fewer-lookups-per-call-2026-12-04-third-session): generic on the state
/// machine alone, a value type, so its statics are the type's own even where the frame's code is shared (a result of a
/// reference type); a state machine has one result type, so what is kept here is always its frame type.
/// </summary>
internal static class FrameStore<TStateMachine>
    where TStateMachine : IAsyncStateMachine
{
    // The thread's frames first (with inline I/O a call starts and ends on the socket thread), then the ones shared
    // between threads: a call that resumes on another thread gives its frame back there.
    internal static readonly Lock SharedLock = new();
    internal static readonly object?[] Shared = new object?[PooledFrame.SharedKept];
    internal static int SharedCount;
    internal static int Made;

    [ThreadStatic]
    internal static object?[]? t_kept;

    [ThreadStatic]
    internal static int t_count;
}

/// <summary>
/// The frame of one awaiting call of <see cref="PooledFrameBuilder{TResult}"/>: its result (a
/// <see cref="ManualResetValueTaskSourceCore{TResult}"/>), read once, after which the frame is reused.
/// </summary>
internal abstract class PooledFrame<TResult> : PooledFrame.Resumable, IValueTaskSource<TResult>, IValueTaskSource
{
    private ManualResetValueTaskSourceCore<TResult> _core;

    internal short Version => _core.Version;

    public TResult GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            Recycle();
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>
    /// The frame of the call whose builder holds <paramref name="field"/>, made at its first await: the state machine
    /// (of which the builder is a field) is copied into a frame taken from the thread's, the frame set first so that the
    /// copy holds it; later awaits find it there.
    /// </summary>
    internal static PooledFrame<TResult, TStateMachine> Of<TStateMachine>(ref PooledFrame<TResult>? field, ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        var context = ExecutionContext.Capture();
        if (field is PooledFrame<TResult, TStateMachine> frame)
        {
            frame.Context = context;
            return frame;
        }

        frame = PooledFrame<TResult, TStateMachine>.Rent();
        field = frame;
        frame.StateMachine = stateMachine;
        frame.Context = context;
        return frame;
    }

    internal void SetResult(TResult result) => _core.SetResult(result);

    internal void SetException(Exception exception) => _core.SetException(exception);

    /// <summary>Drops what the call held and keeps the frame for the next call on this thread.</summary>
    protected abstract void Recycle();
}

/// <summary>A frame of one state machine type.</summary>
internal sealed class PooledFrame<TResult, TStateMachine> : PooledFrame<TResult>
    where TStateMachine : IAsyncStateMachine
{
    public PooledFrame()
    {
        MoveNextAction = MoveNext;
        Interlocked.Increment(ref FrameStore<TStateMachine>.Made);
    }

    /// <summary>How many frames of this type were made (a test checks they are reused).</summary>
    internal static int Made => Volatile.Read(ref FrameStore<TStateMachine>.Made);

    /// <summary>The call's state machine, moved here at its first await.</summary>
#pragma warning disable SA1401, CA1051 // moved into and run in place: a property would copy it
    public TStateMachine? StateMachine;
#pragma warning restore SA1401, CA1051

    /// <summary>The execution context the call awaited in (its async locals), restored to resume it.</summary>
    public ExecutionContext? Context { get; set; }

    /// <summary>Resumes the call: the continuation its awaits register.</summary>
    public Action MoveNextAction { get; }

    public static PooledFrame<TResult, TStateMachine> Rent()
    {
        // Only frames of this type are kept under this state machine's type (the one result type it has): no cast checked.
        var kept = FrameStore<TStateMachine>.t_kept;
        var count = FrameStore<TStateMachine>.t_count;
        if (kept is not null && count > 0)
        {
            FrameStore<TStateMachine>.t_count = --count;
            var frame = System.Runtime.CompilerServices.Unsafe.As<PooledFrame<TResult, TStateMachine>>(kept[count]!);
            kept[count] = null;
            return frame;
        }

        lock (FrameStore<TStateMachine>.SharedLock)
        {
            if (FrameStore<TStateMachine>.SharedCount > 0)
            {
                var at = --FrameStore<TStateMachine>.SharedCount;
                var frame = System.Runtime.CompilerServices.Unsafe.As<PooledFrame<TResult, TStateMachine>>(FrameStore<TStateMachine>.Shared[at]!);
                FrameStore<TStateMachine>.Shared[at] = null;
                return frame;
            }
        }

        return new PooledFrame<TResult, TStateMachine>();
    }

    internal override void RunStateMachine() => StateMachine!.MoveNext();

    protected override void Recycle()
    {
        StateMachine = default;
        Context = null;
        var kept = FrameStore<TStateMachine>.t_kept ??= new object?[PooledFrame.Kept];
        var count = FrameStore<TStateMachine>.t_count;
        if (count < kept.Length)
        {
            kept[count] = this;
            FrameStore<TStateMachine>.t_count = count + 1;
            return;
        }

        lock (FrameStore<TStateMachine>.SharedLock)
        {
            var shared = FrameStore<TStateMachine>.Shared;
            if (FrameStore<TStateMachine>.SharedCount < shared.Length)
            {
                shared[FrameStore<TStateMachine>.SharedCount++] = this;
            }
        }
    }

    private void MoveNext()
    {
        if (Context is { } context)
        {
            ExecutionContext.Run(context, PooledFrame.Resumable.Run, this);
        }
        else
        {
            StateMachine!.MoveNext();
        }
    }
}

using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

#pragma warning disable CA1822 // the builder pattern the compiler calls: instance members, whether or not they read the builder

namespace Sidecar.Platform;

/// <summary>
/// The async method builder of the forwarding path's <see cref="ValueTask{TResult}"/> methods
/// (docs/performance.md#step-3-begun-what-a-taken-call-allocates): the frame of a call that awaits (its state machine, moved off the
/// stack) is taken from a stack of up to <see cref="PooledFrame{TResult}.Kept"/> kept on each thread, and goes
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

/// <summary>The result of a <see cref="PooledFrameBuilder"/> method, which returns nothing.</summary>
internal static class PooledFrame
{
    /// <summary>Nothing.</summary>
    internal readonly struct None;
}

/// <summary>
/// The frame of one awaiting call of <see cref="PooledFrameBuilder{TResult}"/>: its result (a
/// <see cref="ManualResetValueTaskSourceCore{TResult}"/>), read once, after which the frame is reused.
/// </summary>
internal abstract class PooledFrame<TResult> : IValueTaskSource<TResult>, IValueTaskSource
{
    /// <summary>The frames kept per thread and state machine type: enough for the calls of a socket thread's connections in flight.</summary>
    internal const int Kept = 32;

    /// <summary>The frames kept for all threads, per state machine type, when a thread has its <see cref="Kept"/>.</summary>
    internal const int SharedKept = 128;

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
    // The thread's frames first (with inline I/O a call starts and ends on the socket thread), then the ones shared
    // between threads: a call that resumes on another thread gives its frame back there.
    private static readonly Lock SharedLock = new();
    private static readonly PooledFrame<TResult, TStateMachine>?[] Shared = new PooledFrame<TResult, TStateMachine>?[SharedKept];
    private static int _sharedCount;

    [ThreadStatic]
    private static PooledFrame<TResult, TStateMachine>?[]? t_kept;

    [ThreadStatic]
    private static int t_count;

    private static readonly ContextCallback Run = static s => ((PooledFrame<TResult, TStateMachine>)s!).StateMachine!.MoveNext();

    private static int _made;

    public PooledFrame()
    {
        MoveNextAction = MoveNext;
        Interlocked.Increment(ref _made);
    }

    /// <summary>How many frames of this type were made (a test checks they are reused).</summary>
    internal static int Made => Volatile.Read(ref _made);

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
        var kept = t_kept;
        if (kept is not null && t_count > 0)
        {
            var frame = kept[--t_count]!;
            kept[t_count] = null;
            return frame;
        }

        lock (SharedLock)
        {
            if (_sharedCount > 0)
            {
                var frame = Shared[--_sharedCount]!;
                Shared[_sharedCount] = null;
                return frame;
            }
        }

        return new PooledFrame<TResult, TStateMachine>();
    }

    protected override void Recycle()
    {
        StateMachine = default;
        Context = null;
        var kept = t_kept ??= new PooledFrame<TResult, TStateMachine>?[Kept];
        if (t_count < kept.Length)
        {
            kept[t_count++] = this;
            return;
        }

        lock (SharedLock)
        {
            if (_sharedCount < Shared.Length)
            {
                Shared[_sharedCount++] = this;
            }
        }
    }

    private void MoveNext()
    {
        if (Context is { } context)
        {
            ExecutionContext.Run(context, Run, this);
        }
        else
        {
            StateMachine!.MoveNext();
        }
    }
}

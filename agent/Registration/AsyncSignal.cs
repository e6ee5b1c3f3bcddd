namespace Sidecar.Registration;

/// <summary>An auto-reset wake-up for a background loop: <see cref="Set"/> from any thread, the loop awaits <see cref="WaitAsync"/>.</summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource _source = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Set() => Volatile.Read(ref _source).TrySetResult();

    /// <summary>Re-arms the signal; call before reading the state the loop acts on, so no Set is lost.</summary>
    public void Reset()
    {
        var current = Volatile.Read(ref _source);
        if (current.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _source, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), current);
        }
    }

    public Task WaitAsync() => Volatile.Read(ref _source).Task;
}

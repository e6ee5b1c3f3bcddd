using Sidecar.Health;

namespace Sidecar.Tests.Health;

/// <summary>A hand-written probe that answers what the test scripts, or hangs until cancelled.</summary>
internal sealed class ScriptedProbe : IAppHealthProbe
{
    private readonly Queue<Func<CancellationToken, Task<ProbeResult>>> _script = new();
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    /// <summary>What to answer once the script is used up.</summary>
    public Func<CancellationToken, Task<ProbeResult>> Otherwise { get; set; } = _ => Task.FromResult(Ok());

    public static ProbeResult Ok(InstanceStatus? declared = null) => new(declared is null or InstanceStatus.Up, declared, 200, "200 OK", TimeSpan.FromMilliseconds(1));

    public static ProbeResult Fail(int? code = 500) => ProbeResult.Failure(code is null ? "connection refused" : $"{code}", TimeSpan.FromMilliseconds(1), code);

    public ScriptedProbe Then(ProbeResult result)
    {
        _script.Enqueue(_ => Task.FromResult(result));
        return this;
    }

    public ScriptedProbe ThenHang()
    {
        _script.Enqueue(async ct =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            throw new InvalidOperationException("unreachable");
        });
        return this;
    }

    public Task<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        var next = _script.Count > 0 ? _script.Dequeue() : Otherwise;
        return next(cancellationToken);
    }
}

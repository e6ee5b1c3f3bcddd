namespace Sidecar.Health;

/// <summary>
/// Something besides the app's health that must be true before the agent is ready
/// (<c>/v1/health/ready</c>): registration succeeded, for example. Capabilities register one.
/// </summary>
internal interface IReadinessCheck
{
    /// <summary>A short stable name shown in <c>/v1/health</c> (<c>registration</c>, <c>config</c>).</summary>
    public string Name { get; }

    /// <summary>Answers from state already held: never does I/O.</summary>
    public ReadinessResult Check();
}

/// <param name="Ready">Whether this part is ready.</param>
/// <param name="Detail">A short human text: <c>registered with http://eureka1:8761/eureka/</c>.</param>
internal readonly record struct ReadinessResult(bool Ready, string Detail);

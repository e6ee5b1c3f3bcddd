using Sidecar.Health;

namespace Sidecar.AppConfig;

/// <summary>
/// The <c>config</c> entry of <c>/v1/health</c>: where the served config comes from (<c>server</c>,
/// <c>last-known-good</c>, <c>file</c>, <c>none</c>, <c>unavailable</c>). Not ready only while a Config
/// Server is configured and neither it nor a saved copy ever gave a config.
/// </summary>
internal sealed class AppConfigReadinessCheck(AppConfigStore store) : IReadinessCheck
{
    public const string CheckName = "config";

    public string Name => CheckName;

    public ReadinessResult Check() => store.Status;
}

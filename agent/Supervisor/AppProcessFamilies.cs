using System.Globalization;
using Sidecar.Observability;

namespace Sidecar.Supervisor;

/// <summary>The supervised app's own process in <c>/metrics</c> (<c>sidecar_app_process_*</c>), read as the agent's; supervisor mode only.</summary>
internal sealed class AppProcessFamilies(MetricsRegistry registry, AppProcess app) : IMetricsContributor
{
    private readonly ProcessFamilies _families = new(registry.Factory, "sidecar_app_process_", "The supervised app's");

    public void Update(DateTimeOffset now) =>
        _families.Update(app.Pid is { } pid ? ProcessStats.Read(pid.ToString(CultureInfo.InvariantCulture)) : null);
}

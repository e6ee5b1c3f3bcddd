using Sidecar.Platform;

namespace Sidecar.Hosting;

internal static class PipelineExtensions
{
    /// <summary>What every request goes through first: its log line and the last-resort error answer (one frame: <see cref="RequestLoggingMiddleware"/>), the public listener's guard.</summary>
    public static IApplicationBuilder UseAgentPipeline(this IApplicationBuilder app) => app
        .UseMiddleware<RequestLoggingMiddleware>()
        .UsePublicHealthGuard();
}
